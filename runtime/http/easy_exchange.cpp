#include "runtime/http/easy_exchange.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <mutex>
#include <string>

#include "runtime/http/url.hpp"

namespace perdiem::http {

namespace {

using Clock = Exchange::Clock;

// CURL_WRITEFUNC_ERROR aborts the transfer (CURLE_WRITE_ERROR) even for an empty piece,
// where returning 0 would mean "all taken".
constexpr std::size_t kAbort = CURL_WRITEFUNC_ERROR;

std::size_t take_body(Exchange* exchange, char* data, std::size_t n) {
  if (!exchange->deliver_head() || exchange->stop != Stop::none) return kAbort;
  if (n > exchange->request->max_response_bytes - exchange->received) {
    exchange->stop = Stop::too_large;
    return kAbort;
  }
  exchange->received += n;
  exchange->got_body = exchange->got_body || n > 0;
  exchange->last_byte = Clock::now();
  if (exchange->request->on_body_chunk) {
    if (!exchange->request->on_body_chunk(std::string_view(data, n))) {
      exchange->stop = Stop::refused;
      return kAbort;
    }
  } else {
    exchange->response.body.append(data, n);
  }
  return n;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  try {
    return take_body(exchange, data, size * count);
  } catch (...) {
    exchange->thrown = std::current_exception();
    exchange->stop = Stop::refused;
    return kAbort;
  }
}

// libcurl calls this often while bytes flow and about once a second while none do (on
// every curl_multi_perform in a multi handle); a non-zero return aborts with
// CURLE_ABORTED_BY_CALLBACK.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* exchange = static_cast<Exchange*>(user);
  const Request& request = *exchange->request;
  if (request.abandon != nullptr && request.abandon->load()) {
    exchange->stop = Stop::abandoned;
    return 1;
  }
  const auto now = Clock::now();
  if (!exchange->got_body) {
    if (request.first_byte_timeout.count() > 0 &&
        now - exchange->started >= request.first_byte_timeout) {
      exchange->stop = Stop::first_byte_timeout;
      return 1;
    }
  } else if (request.idle_timeout.count() > 0 &&
             now - exchange->last_byte >= request.idle_timeout) {
    exchange->stop = Stop::idle_timeout;
    return 1;
  }
  return 0;
}

std::string trim(std::string_view s) {
  auto is_space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::string_view line(data, size * count);
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) {
    // A status line starts a new header block (after a redirect or 100-continue).
    if (line.starts_with("HTTP/")) exchange->response.headers.clear();
    return size * count;
  }
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  exchange->response.headers.emplace_back(std::move(name), trim(line.substr(colon + 1)));
  return size * count;
}

// DNS answers and TLS sessions shared by every handle of the process, so a thread's
// first request to a provider skips the lookup and resumes a TLS session another
// thread negotiated. Connections stay with each thread's handle, or with the event
// loop's multi handle. Never freed: handles may use it until the process ends.
class Share {
 public:
  static CURLSH* get() {
    static Share* share = new Share;
    return share->handle_;
  }

 private:
  Share() : handle_(curl_share_init()) {
    if (handle_ == nullptr) return;
    curl_share_setopt(handle_, CURLSHOPT_LOCKFUNC, &Share::lock);
    curl_share_setopt(handle_, CURLSHOPT_UNLOCKFUNC, &Share::unlock);
    curl_share_setopt(handle_, CURLSHOPT_USERDATA, this);
    curl_share_setopt(handle_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(handle_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Share*>(user)->mutexes_[index(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Share*>(user)->mutexes_[index(data)].unlock();
  }
  static std::size_t index(curl_lock_data data) {
    const auto i = static_cast<std::size_t>(data);
    return i < kLocks ? i : 0;
  }

  static constexpr std::size_t kLocks = CURL_LOCK_DATA_LAST;
  CURLSH* handle_;
  std::array<std::mutex, kLocks> mutexes_;
};

// Locked memory to build a credential line in, one per thread, wiped after each use.
// A SecureBuffer per request would cost about ten system calls (sodium_malloc maps,
// guards and locks pages; freeing undoes it all), the larger part of a request's CPU
// on a kept-alive connection.
class CredentialScratch {
 public:
  char* reserve(std::size_t bytes) {
    if (buffer_.size() < bytes)
      buffer_ = base::SecureBuffer::zeroed(std::max<std::size_t>(bytes, 512));
    return reinterpret_cast<char*>(buffer_.data());
  }
  void wipe(std::size_t bytes) { explicit_bzero(buffer_.data(), bytes); }

 private:
  base::SecureBuffer buffer_;
};

thread_local CredentialScratch credential_scratch;

// Appends "Authorization: Bearer <token>" (or "<key_header>: <token>") built in locked
// memory; curl copies it into the list, which HeaderList wipes.
curl_slist* append_credential(curl_slist* list, const std::string& key_header,
                              const base::SecureBuffer& token) {
  const std::string_view prefix = key_header.empty() ? std::string_view("Authorization: Bearer ")
                                                     : std::string_view(key_header);
  const std::string_view separator = key_header.empty() ? "" : ": ";
  const std::size_t size = prefix.size() + separator.size() + token.size() + 1;
  char* line = credential_scratch.reserve(size);
  std::memcpy(line, prefix.data(), prefix.size());
  std::memcpy(line + prefix.size(), separator.data(), separator.size());
  std::memcpy(line + prefix.size() + separator.size(), token.data(), token.size());
  line[size - 1] = '\0';
  curl_slist* appended = curl_slist_append(list, line);
  credential_scratch.wipe(size);
  return appended;
}

bool is_cut_off(CURLcode code) {
  return code == CURLE_PARTIAL_FILE || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING ||
         code == CURLE_HTTP2 || code == CURLE_HTTP2_STREAM || code == CURLE_SEND_ERROR;
}

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

}  // namespace

Error exchange_failure(const Exchange& exchange, CURLcode code) {
  const Request& request = *exchange.request;
  const std::string url = display_url(request.url);
  switch (exchange.stop) {
    case Stop::too_large:
      return make_error(ErrorKind::bad_response, "response from " + url + " exceeds the limit of " +
                                                     std::to_string(request.max_response_bytes) +
                                                     " bytes");
    case Stop::first_byte_timeout:
      return make_error(ErrorKind::timeout,
                        "no answer from " + url + " began within " +
                            ms(request.first_byte_timeout) + " of the request",
                        {}, true);
    case Stop::idle_timeout:
      return make_error(
          ErrorKind::timeout,
          "the answer from " + url + " stalled: nothing arrived for " + ms(request.idle_timeout),
          {}, true);
    case Stop::refused:
      return make_error(ErrorKind::cancelled,
                        "the transfer from " + url + " was stopped by its receiver");
    case Stop::abandoned:
      return make_error(ErrorKind::cancelled,
                        "the request to " + url + " was abandoned: its run was cancelled");
    case Stop::none:
      break;
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return make_error(ErrorKind::timeout,
                      "no complete response from " + url + " within " + ms(request.timeout), {},
                      true);
  }
  if (is_cut_off(code) && exchange.head_delivered) {
    return make_error(ErrorKind::transport,
                      "the response from " + url + " was cut off before its end (" +
                          curl_easy_strerror(code) + ")",
                      {}, true);
  }
  return make_error(ErrorKind::transport,
                    "request to " + url + " failed: " + curl_easy_strerror(code), {}, true);
}

bool Exchange::deliver_head() {
  if (head_delivered) return true;
  head_delivered = true;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  if (request->on_head && !request->on_head(response)) {
    stop = Stop::refused;
    return false;
  }
  return true;
}

HeaderList::~HeaderList() {
  for (curl_slist* node = list; node != nullptr; node = node->next) {
    if (node->data != nullptr)
      explicit_bzero(node->data, std::char_traits<char>::length(node->data));
  }
  curl_slist_free_all(list);
}

void ensure_curl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void configure_exchange(Exchange& exchange, HeaderList& headers) {
  const Request& request = *exchange.request;
  CURL* h = exchange.handle;
  for (const auto& [name, value] : request.headers) {
    headers.list = curl_slist_append(headers.list, (name + ": " + value).c_str());
  }
  if (request.bearer_token != nullptr && !request.bearer_token->empty()) {
    headers.list = append_credential(headers.list, request.key_header, *request.bearer_token);
  }
  curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "POST" || !request.body.empty()) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &exchange);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  // HTTP/2 when the server offers it in the TLS handshake; plain http stays HTTP/1.1.
  curl_easy_setopt(h, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  const bool reuse = request.reuse_connection.value_or(!is_loopback_url(request.url));
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, reuse ? 0L : 1L);
  if (CURLSH* share = Share::get(); share != nullptr) curl_easy_setopt(h, CURLOPT_SHARE, share);
  // No CURLOPT_PROXY: libcurl then honours http_proxy, HTTPS_PROXY, ALL_PROXY and
  // NO_PROXY from the environment.
  exchange.started = Clock::now();
}

Result<Response> finish_exchange(Exchange& exchange, CURLcode code) {
  // An empty body never reached on_body: the head goes to on_head now.
  if (code == CURLE_OK && !exchange.deliver_head()) return exchange_failure(exchange, code);
  if (code != CURLE_OK) return exchange_failure(exchange, code);
  curl_easy_getinfo(exchange.handle, CURLINFO_RESPONSE_CODE, &exchange.response.status);
  return std::move(exchange.response);
}

}  // namespace perdiem::http
