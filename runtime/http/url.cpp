#include "runtime/http/url.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <memory>

namespace perdiem::http {
namespace {

struct UrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;

Url parse(const std::string& text) {
  Url url(curl_url());
  if (url && curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0) != CURLUE_OK) url.reset();
  return url;
}

std::string part(CURLU* url, CURLUPart which) {
  char* text = nullptr;
  if (curl_url_get(url, which, &text, 0) != CURLUE_OK || text == nullptr) return {};
  std::string value = text;
  curl_free(text);
  return value;
}

}  // namespace

std::string display_url(const std::string& text) {
  Url url = parse(text);
  if (!url) return "the provider URL";
  curl_url_set(url.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_PASSWORD, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_QUERY, nullptr, 0);
  curl_url_set(url.get(), CURLUPART_FRAGMENT, nullptr, 0);
  std::string shown = part(url.get(), CURLUPART_URL);
  return shown.empty() ? "the provider URL" : shown;
}

bool is_loopback_url(const std::string& text) {
  Url url = parse(text);
  if (!url) return false;
  std::string host = part(url.get(), CURLUPART_HOST);
  if (host == "localhost") return true;
  if (host == "[::1]") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  return false;
}

}  // namespace perdiem::http
