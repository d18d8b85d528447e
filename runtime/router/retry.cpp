#include "runtime/router/retry.hpp"

#include <algorithm>
#include <array>

namespace perdiem::router {
namespace {

using std::chrono::milliseconds;

Verdict verdict(Next next, bool health_failure, std::string reason) {
  return {next, health_failure, std::move(reason)};
}

Verdict classify_status(int status) {
  const std::string http = "HTTP " + std::to_string(status);
  if (status == 408 || status == 409 || status == 429 || (status >= 500 && status <= 599))
    return verdict(Next::retry, true, http + ": retryable");
  if (status == 400 || status == 422)
    return verdict(Next::stop, false, http + ": the request itself was rejected; not retried");
  if (status == 401 || status == 403)
    return verdict(Next::next_candidate, false, http + ": credentials refused at this provider");
  if (status == 404)
    return verdict(Next::next_candidate, false, http + ": this provider lacks the model");
  return verdict(Next::next_candidate, false, http + ": final at this provider");
}

Verdict classify_kind(const Failure& f) {
  const std::string kind(to_string(f.kind));
  switch (f.kind) {
    case ErrorKind::rate_limited:
    case ErrorKind::transport:
    case ErrorKind::timeout:
      return verdict(Next::retry, true, kind + ": retryable");
    case ErrorKind::provider:
      return f.retryable ? verdict(Next::retry, true, kind + ": retryable")
                         : verdict(Next::next_candidate, false, kind + ": final at this provider");
    case ErrorKind::bad_response:
      // The same provider would likely answer the same undecodable thing again.
      return verdict(Next::next_candidate, true, kind + ": undecodable answer");
    case ErrorKind::auth:
    case ErrorKind::not_found:
    case ErrorKind::config:
      return verdict(Next::next_candidate, false, kind + ": final at this provider");
    case ErrorKind::insufficient_credits:
    case ErrorKind::budget_exceeded:
      // Refused before sending; a cheaper candidate may still fit.
      return verdict(Next::next_candidate, false, kind + ": the wallet refused; nothing sent");
    default:
      return verdict(Next::stop, false, kind + ": final");
  }
}

bool read_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, int m, int d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" -> Unix milliseconds.
std::optional<std::int64_t> parse_imf_fixdate(std::string_view s) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  int day, year, hour, minute, second;
  if (!read_digits(s, 5, 2, day) || !read_digits(s, 12, 4, year) || !read_digits(s, 17, 2, hour) ||
      !read_digits(s, 20, 2, minute) || !read_digits(s, 23, 2, second))
    return std::nullopt;
  const auto month = std::find(kMonths.begin(), kMonths.end(), s.substr(8, 3));
  if (month == kMonths.end() || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  const std::int64_t days =
      days_from_civil(year, static_cast<int>(month - kMonths.begin()) + 1, day);
  return ((days * 24 + hour) * 60 + minute) * 60'000 + second * 1000;
}

}  // namespace

Failure failure_from(const Error& error) {
  Failure f;
  f.kind = error.kind;
  f.retryable = error.retryable;
  return f;
}

std::string_view to_string(Next next) {
  switch (next) {
    case Next::retry:
      return "retry";
    case Next::next_candidate:
      return "next candidate";
    case Next::stop:
      return "stop";
  }
  return "?";
}

Verdict classify(const Failure& failure, const RetryOptions& options) {
  if (failure.partial_output)
    return verdict(Next::stop, true,
                   std::string(to_string(failure.kind)) +
                       " after part of the answer had streamed: the provider bills what it "
                       "generated, so it is not retried");
  Verdict v = failure.http_status ? classify_status(*failure.http_status) : classify_kind(failure);
  if (v.next == Next::retry && failure.retry_after &&
      *failure.retry_after > options.max_retry_after) {
    v.next = Next::next_candidate;
    v.reason += "; Retry-After " + std::to_string(failure.retry_after->count() / 1000) +
                " s is too long to wait";
  }
  return v;
}

milliseconds backoff_delay(const RetryOptions& options, int retry,
                           std::optional<milliseconds> retry_after, base::Random& random) {
  // Shift at most 30 places: base_delay * 2^30 already dwarfs any sane cap.
  const int doublings = std::clamp(retry - 1, 0, 30);
  const std::int64_t base = std::max<std::int64_t>(options.base_delay.count(), 0);
  const std::int64_t cap = std::max<std::int64_t>(options.max_delay.count(), 0);
  const std::int64_t ceiling = base > (cap >> doublings) ? cap : base << doublings;
  const milliseconds jittered(
      static_cast<std::int64_t>(random.uniform(static_cast<std::uint64_t>(ceiling) + 1)));
  return std::max(jittered, retry_after.value_or(milliseconds(0)));
}

std::optional<milliseconds> parse_retry_after(std::string_view value, std::int64_t now_unix_ms) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // Ten digits is over 300 years; saturate rather than overflow.
    if (value.size() > 10) return milliseconds(9'999'999'999'000);
    std::int64_t seconds = 0;
    for (char c : value) seconds = seconds * 10 + (c - '0');
    return milliseconds(seconds * 1000);
  }
  const std::optional<std::int64_t> at = parse_imf_fixdate(value);
  if (!at) return std::nullopt;
  return milliseconds(std::max<std::int64_t>(0, *at - now_unix_ms));
}

}  // namespace perdiem::router
