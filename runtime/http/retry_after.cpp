#include "runtime/http/retry_after.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace perdiem::http {

namespace {

using std::chrono::milliseconds;

milliseconds capped(double ms) {
  return ms >= static_cast<double>(kMaxRetryAfter.count())
             ? kMaxRetryAfter
             : milliseconds(static_cast<std::int64_t>(std::ceil(ms)));
}

// A non-negative decimal number ("1500", "1.5"), or nullopt.
std::optional<double> number(std::string_view text) {
  if (text.empty() || !(std::isdigit(static_cast<unsigned char>(text.front())) != 0)) {
    return std::nullopt;
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0;
  });
}

}  // namespace

std::optional<milliseconds> retry_after(const Response& response,
                                        std::chrono::system_clock::time_point now) {
  if (std::optional<double> ms = number(response.header("retry-after-ms"))) return capped(*ms);
  const std::string value = response.header("retry-after");
  if (value.empty()) return std::nullopt;
  if (all_digits(value)) {
    // delay-seconds: digits only (RFC 9110 10.2.3); a huge count saturates.
    std::optional<double> seconds = number(value);
    return seconds ? std::optional(capped(*seconds * 1000.0)) : std::nullopt;
  }
  // An HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"); libcurl parses every form RFC 9110
  // allows.
  const time_t when = curl_getdate(value.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  // Compared in seconds first: a date centuries ahead does not fit system_clock's
  // nanoseconds.
  const auto now_seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  const auto ahead = static_cast<std::int64_t>(when) - static_cast<std::int64_t>(now_seconds);
  if (ahead > std::chrono::duration_cast<std::chrono::seconds>(kMaxRetryAfter).count()) {
    return kMaxRetryAfter;
  }
  const auto delay = std::chrono::system_clock::from_time_t(when) - now;
  if (delay <= std::chrono::system_clock::duration::zero()) return milliseconds(0);
  return capped(static_cast<double>(std::chrono::duration_cast<milliseconds>(delay).count()));
}

}  // namespace perdiem::http
