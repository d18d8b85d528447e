// The executor's test world: scripted attempts that stand in for metered provider
// calls, a ManualClock, a seeded Random and a sleeper that records its delays.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "router_fixture.hpp"
#include "runtime/router/router.hpp"

namespace perdiem::router::testing {

using std::chrono::milliseconds;

inline AttemptResult http_failure(int status, ErrorKind kind = ErrorKind::provider) {
  AttemptResult r = make_error(kind, "HTTP " + std::to_string(status), "p", status >= 500);
  r.http_status = status;
  return r;
}

inline AttemptResult unreachable() {
  return make_error(ErrorKind::transport, "connection refused", "p", true);
}

// Providers answer from a script, then succeed; a stand-in for the meter counts holds
// and what became of them.
struct World {
  base::ManualClock clock{1'700'000'000'000};
  base::SeededRandom random{1};
  HealthBook health;
  std::vector<milliseconds> slept;
  std::map<std::string, std::deque<AttemptResult>> script;
  std::vector<std::pair<std::string, int>> calls;  // provider, attempt number
  std::int64_t latency_ms = 40;
  int reserved = 0, settled = 0, released = 0;
  RetryOptions retry;

  explicit World(HealthOptions options = {}) : health(options) {}

  AttemptFn attempt() {
    return [this](const Candidate& c, int number) -> AttemptResult {
      calls.emplace_back(c.provider, number);
      ++reserved;
      clock.advance_ms(latency_ms);
      std::deque<AttemptResult>& queue = script[c.provider];
      if (queue.empty()) {
        ++settled;
        providers::ChatResponse response;
        response.provider = c.provider;
        response.model = c.model;
        response.content = "hi from " + c.provider;
        return response;
      }
      AttemptResult result = queue.front();
      queue.pop_front();
      ++released;  // the meter releases the whole hold of a failed attempt
      return result;
    };
  }

  RouteResult run(const std::vector<Candidate>& candidates, const RouteRequest& request) {
    const Plan plan = plan_route(candidates, request, health, {}, clock.now_unix_ms());
    RouterEnv env{health, clock, random,
                  [this](milliseconds d) {
                    slept.push_back(d);
                    clock.advance_ms(d.count());
                  },
                  retry};
    return route_call(plan, attempt(), env);
  }

  std::vector<std::string> called() const {
    std::vector<std::string> names;
    for (const auto& [provider, number] : calls) names.push_back(provider);
    return names;
  }
};

inline RouteRequest call() {
  RouteRequest r;
  r.input_tokens = 1'000;
  r.max_output_tokens = 1'000;
  return r;
}

// cheapest order: groq, together, venice.
inline std::vector<Candidate> three() {
  return {remote("venice", 3'000'000, 3'000'000), remote("together", 2'000'000, 2'000'000),
          remote("groq", 1'000'000, 1'000'000)};
}

inline std::vector<TraceOutcome> outcomes(const RouteResult& r) {
  std::vector<TraceOutcome> out;
  for (const TraceEntry& e : r.trace) out.push_back(e.outcome);
  return out;
}

using V = std::vector<std::string>;
using O = std::vector<TraceOutcome>;

}  // namespace perdiem::router::testing
