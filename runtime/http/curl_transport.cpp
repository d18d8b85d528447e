#include "runtime/http/curl_transport.hpp"

#include "runtime/http/url.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <string>

namespace perdiem::http {

std::string Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

namespace {



struct Exchange {
  Response response;
  std::size_t max_bytes = 0;
  bool too_large = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const std::size_t n = size * count;
  if (exchange->response.body.size() + n > exchange->max_bytes) {
    exchange->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  exchange->response.body.append(data, n);
  return n;
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

struct CurlHandle {
  CURL* handle = curl_easy_init();
  curl_slist* headers = nullptr;
  ~CurlHandle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(handle);
  }
};

// Appends "Authorization: Bearer <token>" built in locked memory; curl copies it.
curl_slist* append_bearer(curl_slist* list, const base::SecureBuffer& token) {
  static constexpr std::string_view prefix = "Authorization: Bearer ";
  auto line = base::SecureBuffer::zeroed(prefix.size() + token.size() + 1);
  std::copy(prefix.begin(), prefix.end(), line.data());
  std::copy(token.bytes().begin(), token.bytes().end(), line.data() + prefix.size());
  return curl_slist_append(list, reinterpret_cast<const char*>(line.data()));
}

class CurlTransport final : public Transport {
 public:
  CurlTransport() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<Response> send(const Request& request) override {
    CurlHandle curl;
    if (curl.handle == nullptr) {
      return make_error(ErrorKind::internal, "libcurl could not create a handle");
    }
    Exchange exchange;
    exchange.max_bytes = request.max_response_bytes;
    CURL* h = curl.handle;
    for (const auto& [name, value] : request.headers) {
      curl.headers = curl_slist_append(curl.headers, (name + ": " + value).c_str());
    }
    if (request.bearer_token != nullptr && !request.bearer_token->empty()) {
      curl.headers = append_bearer(curl.headers, *request.bearer_token);
    }
    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    if (request.method == "POST" || !request.body.empty()) {
      curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, curl.headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &exchange);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &exchange);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");

    const CURLcode code = curl_easy_perform(h);
    if (exchange.too_large) {
      return make_error(ErrorKind::bad_response,
                        "response from " + display_url(request.url) + " exceeds the limit of " +
                            std::to_string(request.max_response_bytes) + " bytes");
    }
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return make_error(ErrorKind::timeout,
                        "no complete response from " + display_url(request.url) + " within " +
                            std::to_string(request.timeout.count()) + " ms",
                        {}, true);
    }
    if (code != CURLE_OK) {
      return make_error(ErrorKind::transport,
                        "request to " + display_url(request.url) + " failed: " +
                            curl_easy_strerror(code),
                        {}, true);
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &exchange.response.status);
    return std::move(exchange.response);
  }
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport() { return std::make_unique<CurlTransport>(); }

}  // namespace perdiem::http
