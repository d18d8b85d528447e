// The router: for one model call, the ordered plan of candidates (plan_route), and the
// executor that walks it (route_call / RouteSession): retries with backoff, falls back
// to the next candidate, respects each provider's circuit breaker, feeds outcomes back
// into health, and records a trace of every attempt with the reason for it.
//
// The router sits between the runtime and the meter: each attempt is one metered call
// the caller performs (reserve, send, settle or release), so a failed attempt is charged
// nothing and the one that succeeds is charged once. The router itself never charges.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"
#include "runtime/router/candidates.hpp"
#include "runtime/router/health.hpp"
#include "runtime/router/policy.hpp"
#include "runtime/router/retry.hpp"

namespace perdiem::router {

struct Plan {
  std::vector<Ranked> attempts;        // tried in this order
  std::vector<Ranked> local_fallback;  // tried only when every remote is unreachable
  std::vector<Rejected> rejected;
  std::string reason;  // the whole decision, for people: order, why, what was left out
};

Plan plan_route(std::span<const Candidate> candidates, const RouteRequest& request,
                const HealthBook& health, const AllowanceOracle& allowance, std::int64_t now_ms);

// One attempt's outcome. Converts implicitly from Result<ChatResponse>, so an attempt
// function may return just that; the other fields sharpen the retry decision.
struct AttemptResult {
  AttemptResult(Result<providers::ChatResponse> r) : response(std::move(r)) {}  // NOLINT
  AttemptResult(providers::ChatResponse r) : response(std::move(r)) {}          // NOLINT
  AttemptResult(Error e) : response(std::move(e)) {}                            // NOLINT

  Result<providers::ChatResponse> response;
  std::optional<int> http_status;
  std::optional<std::chrono::milliseconds> retry_after;
  bool partial_output = false;          // part of the answer streamed before the failure
  std::optional<std::int64_t> ttft_us;  // time to first token, when streamed
};

// Performs one metered attempt at `candidate`; `attempt` counts from 1 across the call.
using AttemptFn = std::function<AttemptResult(const Candidate& candidate, int attempt)>;
// Waits before a retry. Tests pass one that records the delays.
using Sleeper = std::function<void(std::chrono::milliseconds)>;

enum class TraceOutcome { ok, retry, next_candidate, stop, skipped };
std::string_view to_string(TraceOutcome outcome);

struct TraceEntry {
  std::string provider;
  std::string model;
  int attempt = 0;  // 0 for a skipped candidate (nothing was sent)
  TraceOutcome outcome = TraceOutcome::ok;
  std::chrono::microseconds latency{0};
  std::chrono::milliseconds waited{0};  // backoff before this attempt
  std::string reason;
};

struct RouteResult {
  Result<providers::ChatResponse> response;
  std::vector<TraceEntry> trace;
};

// Walks a plan one attempt at a time without blocking, so an event loop can wait out a
// backoff with a timer instead of a sleep. `plan` and `health` must outlive the session.
// One session serves one call on one thread; the health book may be shared.
class RouteSession {
 public:
  RouteSession(const Plan& plan, HealthBook& health, base::Random& random, RetryOptions options);

  struct Step {
    const Ranked* candidate;
    int attempt;
    std::chrono::milliseconds delay;  // wait this long, then send
  };
  // The next attempt, already admitted by its circuit breaker at `now_ms` (refused
  // candidates are skipped and traced); nullopt when the call is over.
  std::optional<Step> next(std::int64_t now_ms);
  // The outcome of the attempt next() returned, `latency_us` after sending it. An answer
  // is moved into the session (finish() hands it back), so pass the result by move.
  void record(AttemptResult result, std::int64_t latency_us, std::int64_t now_ms);
  // The answer, or the error that ends the call, and the trace. Call once, when next()
  // has returned nullopt.
  RouteResult finish();

 private:
  const std::vector<Ranked>& current_list() const;
  void advance(bool unreachable);  // leaves the current candidate
  bool may_fall_back_to_local() const;
  void trace(const Ranked& c, int attempt, TraceOutcome outcome, std::int64_t latency_us,
             std::string reason);

  const Plan& plan_;
  HealthBook& health_;
  base::Random& random_;
  RetryOptions options_;
  bool in_fallback_ = false;
  std::size_t index_ = 0;                // into current_list()
  int tries_ = 0;                        // at the current candidate
  int attempts_ = 0;                     // across the call
  std::chrono::milliseconds delay_{0};   // before the next attempt
  std::chrono::milliseconds waited_{0};  // before the current one
  bool in_attempt_ = false;              // next() returned a step not yet record()ed
  bool done_ = false;
  int unreachable_remotes_ = 0;
  bool reachable_remote_ = false;
  bool all_health_failures_ = true;
  ErrorKind last_kind_ = ErrorKind::provider;
  // The last failure's amounts (a refusal for money): the final error reports its kind,
  // so it carries them too.
  std::optional<std::int64_t> last_needed_nanos_;
  std::optional<std::int64_t> last_available_nanos_;
  std::optional<providers::ChatResponse> answer_;
  std::optional<Error> final_error_;
  std::vector<std::string> failures_;  // "venice: message", for the final error
  std::vector<TraceEntry> trace_;
};

struct RouterEnv {
  HealthBook& health;
  const base::Clock& clock;  // wall time for the breaker, monotonic for latency
  base::Random& random;      // backoff jitter
  Sleeper sleep;
  RetryOptions retry;
};

// Runs `plan` to completion on this thread, sleeping through backoffs with env.sleep.
RouteResult route_call(const Plan& plan, const AttemptFn& attempt, RouterEnv& env);

}  // namespace perdiem::router
