#include "tools/builtin/http_fetch.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "tools/text.hpp"

namespace perdiem::tools {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
constexpr const char* kSource = "http.fetch";

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct EasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
struct ListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

struct UrlParts {
  std::string scheme;
  std::string host;
  std::string shown;  // without user:password, query and fragment, for messages
};

std::string url_part(CURLU* url, CURLUPart which) {
  char* text = nullptr;
  if (curl_url_get(url, which, &text, 0) != CURLUE_OK || text == nullptr) return {};
  std::string value = text;
  curl_free(text);
  return value;
}

Result<UrlParts> parse_url(const std::string& text) {
  std::unique_ptr<CURLU, UrlDeleter> url(curl_url());
  if (!url || curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) {
    return make_error(ErrorKind::invalid_argument,
                      "'" + sanitize_utf8(text.substr(0, 200)) + "' is not a valid absolute URL",
                      kSource);
  }
  UrlParts parts;
  parts.scheme = lower(url_part(url.get(), CURLUPART_SCHEME));
  parts.host = lower(url_part(url.get(), CURLUPART_HOST));
  curl_url_set(url.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_QUERY, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_FRAGMENT, nullptr, 0);
  parts.shown = url_part(url.get(), CURLUPART_URL);
  if (parts.scheme != "http" && parts.scheme != "https") {
    return make_error(ErrorKind::tool,
                      "scheme '" + parts.scheme + "' is refused; http.fetch speaks http and https",
                      kSource);
  }
  return parts;
}

Status check_host(const HttpFetchOptions& options, const UrlParts& url, bool redirect) {
  if (host_allowed(options.allowed_hosts, url.host)) return {};
  return make_error(ErrorKind::tool,
                    std::string(redirect ? "a redirect to " : "") + "host '" + url.host + "' (" +
                        url.shown +
                        ") is refused: it is not on http.fetch's allow-list; allow it with "
                        "--allow-host " +
                        url.host,
                    kSource);
}

struct Body {
  std::string data;
  std::size_t cap = 0;
  bool too_big = false;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* body = static_cast<Body*>(user);
  std::size_t bytes = size * count;
  if (body->data.size() + bytes > body->cap) {
    body->too_big = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  body->data.append(data, bytes);
  return bytes;
}

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
  return size * count;
}

struct Hop {
  long status = 0;
  std::string content_type;
  std::string location;  // absolute, resolved by libcurl; "" when not a redirect
};

Result<Hop> fetch_once(const HttpFetchOptions& options, const std::string& url,
                       const std::string& method, const std::string& request_body,
                       curl_slist* headers, std::chrono::milliseconds left, Body& body) {
  std::unique_ptr<CURL, EasyDeleter> easy(curl_easy_init());
  if (!easy) return make_error(ErrorKind::internal, "curl_easy_init failed", kSource);
  CURL* h = easy.get();
  char error_text[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_text);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);  // each hop is checked here instead
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(h, CURLOPT_USERAGENT, options.user_agent.c_str());
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<std::int64_t>(1, left.count())));
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options.max_response_bytes));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
  if (method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request_body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request_body.size()));
  }
  CURLcode rc = curl_easy_perform(h);
  if (body.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
    return make_error(ErrorKind::tool,
                      "the response is larger than http.fetch's limit of " +
                          std::to_string(options.max_response_bytes) + " bytes",
                      kSource);
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return make_error(ErrorKind::timeout,
                      "the request ran past http.fetch's " +
                          std::to_string(options.timeout.count()) + " ms limit",
                      kSource, true);
  }
  if (rc != CURLE_OK) {
    std::string why = error_text[0] != 0 ? error_text : curl_easy_strerror(rc);
    return make_error(ErrorKind::transport, "the request failed: " + why, kSource, true);
  }
  Hop hop;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &hop.status);
  char* type = nullptr;
  if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type) == CURLE_OK && type != nullptr) {
    hop.content_type = type;
  }
  char* location = nullptr;
  if (hop.status >= 300 && hop.status < 400 &&
      curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location != nullptr) {
    hop.location = location;
  }
  return hop;
}

Result<json> fetch(const HttpFetchOptions& options, const json& args) {
  static std::once_flag curl_ready;
  std::call_once(curl_ready, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });

  std::string url = args["url"];
  std::string method = args.value("method", "GET");
  std::string request_body = args.value("body", "");
  if (request_body.size() > options.max_request_body_bytes) {
    return make_error(ErrorKind::tool,
                      "the request body is larger than " +
                          std::to_string(options.max_request_body_bytes) + " bytes",
                      kSource);
  }
  std::unique_ptr<curl_slist, ListDeleter> headers;
  auto add_header = [&](const std::string& line) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  };
  if (args.contains("content_type"))
    add_header("Content-Type: " + args["content_type"].get<std::string>());
  if (args.contains("headers")) {
    for (const auto& [name, value] : args["headers"].items()) {
      std::string text = value.get<std::string>();
      std::string lowered = lower(name);
      // CR/LF would smuggle extra headers; Host would point the request elsewhere.
      if (text.find_first_of("\r\n") != std::string::npos || lowered == "host" ||
          name.find_first_of(":\r\n ") != std::string::npos) {
        return make_error(ErrorKind::invalid_argument, "header '" + name + "' is refused", kSource);
      }
      add_header(name + ": " + text);
    }
  }

  auto deadline = Clock::now() + options.timeout;
  for (int redirects = 0;; ++redirects) {
    Result<UrlParts> parts = parse_url(url);
    if (!parts.ok()) return parts.error();
    if (Status s = check_host(options, *parts, redirects > 0); !s.ok()) return s.error();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return make_error(ErrorKind::timeout,
                        "the request ran past http.fetch's " +
                            std::to_string(options.timeout.count()) + " ms limit",
                        kSource, true);
    }
    Body body;
    body.cap = options.max_response_bytes;
    Result<Hop> hop = fetch_once(options, url, method, request_body, headers.get(), left, body);
    if (!hop.ok()) return hop.error();
    if (hop->location.empty()) {
      return json{{"status", hop->status},
                  {"url", parts->shown},
                  {"content_type", hop->content_type},
                  {"body", sanitize_utf8(body.data)},
                  {"redirects", redirects}};
    }
    if (redirects >= options.max_redirects) {
      return make_error(ErrorKind::tool,
                        "more than " + std::to_string(options.max_redirects) + " redirects",
                        kSource);
    }
    // As browsers do: 303 (and 301/302 after a POST) continue as a GET without a body;
    // 307 and 308 repeat the request as it was.
    if (hop->status == 303 || ((hop->status == 301 || hop->status == 302) && method == "POST")) {
      method = "GET";
      request_body.clear();
    }
    url = hop->location;
  }
}

}  // namespace

bool host_allowed(const std::vector<std::string>& allowed, std::string_view host) {
  std::string wanted = lower(host);
  if (wanted.empty()) return false;
  for (const std::string& entry : allowed) {
    std::string pattern = lower(entry);
    if (pattern == wanted) return true;
    if (pattern.rfind("*.", 0) == 0) {
      std::string suffix = pattern.substr(1);  // ".example.com"
      if (wanted.size() > suffix.size() &&
          wanted.compare(wanted.size() - suffix.size(), suffix.size(), suffix) == 0) {
        return true;
      }
    }
  }
  return false;
}

Tool make_http_fetch_tool(HttpFetchOptions options) {
  Tool tool;
  tool.name = "http.fetch";
  std::string hosts;
  for (const std::string& host : options.allowed_hosts) hosts += (hosts.empty() ? "" : ", ") + host;
  tool.description = "Fetch a URL with GET or POST. Reachable hosts: " +
                     (hosts.empty() ? std::string("none") : hosts) + ".";
  tool.parameters = {
      {"type", "object"},
      {"properties",
       {{"url", {{"type", "string"}, {"description", "an absolute http or https URL"}}},
        {"method", {{"enum", {"GET", "POST"}}}},
        {"body", {{"type", "string"}}},
        {"content_type", {{"type", "string"}}},
        {"headers", {{"type", "object"}, {"additionalProperties", {{"type", "string"}}}}}}},
      {"required", {"url"}},
      {"additionalProperties", false}};
  tool.builtin = true;
  tool.handler = [options = std::move(options)](const json& args, const ToolContext&) {
    return fetch(options, args);
  };
  return tool;
}

}  // namespace perdiem::tools
