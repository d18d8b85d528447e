// Failure classification, backoff bounds and Retry-After.
#include "runtime/router/retry.hpp"

#include <doctest/doctest.h>

#include <set>

using namespace perdiem;
using namespace perdiem::router;
using std::chrono::milliseconds;

namespace {

Verdict status(int code, ErrorKind kind = ErrorKind::provider) {
  Failure f;
  f.kind = kind;
  f.http_status = code;
  return classify(f, RetryOptions{});
}

Verdict kind(ErrorKind k, bool retryable = false) {
  return classify(failure_from(make_error(k, "x", "p", retryable)), RetryOptions{});
}

}  // namespace

TEST_CASE("HTTP statuses: 408, 409, 429 and 5xx retry; 400-class are final") {
  for (int code : {408, 409, 429, 500, 502, 503, 504, 599}) {
    CAPTURE(code);
    CHECK(status(code).next == Next::retry);
    CHECK(status(code).health_failure);
  }
  for (int code : {400, 422}) {
    CAPTURE(code);
    CHECK(status(code).next == Next::stop);
    CHECK_FALSE(status(code).health_failure);
  }
  for (int code : {401, 403, 404, 402, 413}) {
    CAPTURE(code);
    CHECK(status(code).next == Next::next_candidate);
    CHECK_FALSE(status(code).health_failure);
  }
  CHECK(status(503).reason == "HTTP 503: retryable");
}

TEST_CASE("error kinds without a status") {
  CHECK(kind(ErrorKind::transport).next == Next::retry);
  CHECK(kind(ErrorKind::timeout).next == Next::retry);
  CHECK(kind(ErrorKind::rate_limited).next == Next::retry);
  CHECK(kind(ErrorKind::provider, true).next == Next::retry);
  CHECK(kind(ErrorKind::provider, false).next == Next::next_candidate);
  CHECK(kind(ErrorKind::bad_response).next == Next::next_candidate);
  CHECK(kind(ErrorKind::bad_response).health_failure);
  CHECK(kind(ErrorKind::auth).next == Next::next_candidate);
  CHECK(kind(ErrorKind::not_found).next == Next::next_candidate);
  CHECK(kind(ErrorKind::config).next == Next::next_candidate);
  // The wallet refused: nothing was sent, and it says nothing of the provider.
  CHECK(kind(ErrorKind::insufficient_credits).next == Next::next_candidate);
  CHECK_FALSE(kind(ErrorKind::insufficient_credits).health_failure);
  CHECK(kind(ErrorKind::budget_exceeded).next == Next::next_candidate);
  for (ErrorKind k : {ErrorKind::invalid_argument, ErrorKind::cancelled, ErrorKind::internal,
                      ErrorKind::storage, ErrorKind::limit}) {
    CAPTURE(to_string(k));
    CHECK(kind(k, true).next == Next::stop);
  }
}

TEST_CASE("a failure after partial output is never retried, whatever its status") {
  Failure f;
  f.kind = ErrorKind::transport;
  f.retryable = true;
  f.http_status = 503;
  f.partial_output = true;
  const Verdict v = classify(f, RetryOptions{});
  CHECK(v.next == Next::stop);
  CHECK(v.health_failure);
  CHECK(v.reason.find("bills what it generated") != std::string::npos);
}

TEST_CASE("a Retry-After longer than the limit moves on instead of waiting") {
  Failure f;
  f.kind = ErrorKind::rate_limited;
  f.http_status = 429;
  f.retry_after = milliseconds(30'000);
  CHECK(classify(f, RetryOptions{}).next == Next::retry);
  f.retry_after = milliseconds(30'001);
  const Verdict v = classify(f, RetryOptions{});
  CHECK(v.next == Next::next_candidate);
  CHECK(v.health_failure);
  CHECK(v.reason == "HTTP 429: retryable; Retry-After 30 s is too long to wait");
}

TEST_CASE("backoff is full jitter under an exponential, capped ceiling") {
  RetryOptions options;
  options.base_delay = milliseconds(100);
  options.max_delay = milliseconds(1'000);
  base::SeededRandom random(7);
  const std::int64_t ceilings[] = {100, 200, 400, 800, 1'000, 1'000};
  for (int retry = 1; retry <= 6; ++retry) {
    CAPTURE(retry);
    std::set<std::int64_t> seen;
    for (int i = 0; i < 20'000; ++i)
      seen.insert(backoff_delay(options, retry, std::nullopt, random).count());
    // Within [0, ceiling], and jitter spreads retries over all of it: both ends reached.
    CHECK(*seen.begin() == 0);
    CHECK(*seen.rbegin() == ceilings[retry - 1]);
  }
  // Far beyond any sane retry count the cap still holds, and nothing overflows.
  CHECK(backoff_delay(options, 1'000'000, std::nullopt, random).count() <= 1'000);
}

TEST_CASE("backoff never waits less than Retry-After, and is reproducible from a seed") {
  RetryOptions options;
  base::SeededRandom a(42), b(42);
  for (int i = 0; i < 100; ++i) {
    CHECK(backoff_delay(options, 1, milliseconds(5'000), a) == milliseconds(5'000));
  }
  base::SeededRandom c(42);
  for (int retry = 1; retry < 8; ++retry)
    CHECK(backoff_delay(options, retry, std::nullopt, b) ==
          backoff_delay(options, retry, std::nullopt, c));
}

TEST_CASE("Retry-After: seconds or an HTTP date") {
  const std::int64_t now = 784'111'777'000;  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parse_retry_after("120", now) == milliseconds(120'000));
  CHECK(parse_retry_after(" 0 ", now) == milliseconds(0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now) == milliseconds(0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now) == milliseconds(30'000));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == milliseconds(0));  // past
  CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0) == milliseconds(1'445'412'480'000));
  CHECK(parse_retry_after("99999999999999999999", now) > milliseconds(1'000'000'000'000));
  CHECK_FALSE(parse_retry_after("", now));
  CHECK_FALSE(parse_retry_after("-1", now));
  CHECK_FALSE(parse_retry_after("1.5", now));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now));
  CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now));
  CHECK_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now));
}
