// Failures: which ones to retry, how long to wait, and when to move on.
//
//   retry the same provider   408, 409, 429, 5xx; timeouts, connection failures
//   next candidate            401, 403, 404 and other 4xx; a wallet refusal (nothing
//                             was sent); a response that cannot be decoded
//   stop the call             400/422 (another provider would reject the same request),
//                             cancellation, bugs; and any failure after part of the
//                             answer had streamed: the provider bills what it generated,
//                             so a blind retry would pay twice
//
// Pure functions: randomness comes from the caller's Random, time from the caller.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/random.hpp"
#include "perdiem/error.hpp"

namespace perdiem::router {

// What is known about one failed attempt beyond its perdiem::Error.
struct Failure {
  ErrorKind kind = ErrorKind::internal;
  bool retryable = false;                                // Error::retryable, as the adapter set it
  std::optional<int> http_status;                        // when the provider answered at all
  std::optional<std::chrono::milliseconds> retry_after;  // from a Retry-After header
  bool partial_output = false;                           // some of the answer had streamed already
};

// The Failure an Error alone tells of (no status, no Retry-After, nothing streamed).
Failure failure_from(const Error& error);

enum class Next { retry, next_candidate, stop };
std::string_view to_string(Next next);

struct Verdict {
  Next next = Next::stop;
  // Counts against the provider's health (success rate, circuit breaker). Refusals
  // that are about the request or the wallet do not.
  bool health_failure = false;
  std::string reason;  // "HTTP 503: retryable", for traces
};

struct RetryOptions {
  int retries_per_candidate = 2;  // after the first attempt, before moving on
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{8'000};  // cap on the backoff itself
  // A Retry-After longer than this moves to the next candidate instead of waiting.
  std::chrono::milliseconds max_retry_after{30'000};
};

Verdict classify(const Failure& failure, const RetryOptions& options);

// The wait before retry number `retry` (1 for the first): "full jitter", uniform in
// [0, min(max_delay, base_delay * 2^(retry-1))] so that many clients retrying at once
// spread out; never shorter than `retry_after`.
std::chrono::milliseconds backoff_delay(const RetryOptions& options, int retry,
                                        std::optional<std::chrono::milliseconds> retry_after,
                                        base::Random& random);

// A Retry-After header value: delay-seconds ("120") or an IMF-fixdate ("Wed, 21 Oct 2015
// 07:28:00 GMT", read against `now_unix_ms`; a date in the past is zero). nullopt when
// the value is neither.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::int64_t now_unix_ms);

}  // namespace perdiem::router
