// The executor and the circuit breaker, and the fall back to a local provider when
// every remote one is unreachable.
#include "runtime/router/router.hpp"

#include <doctest/doctest.h>

#include "route_world.hpp"

using namespace perdiem;
using namespace perdiem::router;
using namespace perdiem::router::testing;

TEST_CASE("the circuit breaker cuts retries short and skips open providers") {
  World w(HealthOptions{.failure_threshold = 2, .cooldown_ms = 60'000});
  w.script["groq"] = {unreachable(), unreachable()};
  RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  // The second failure opened groq's breaker: its third attempt is skipped, unsent.
  CHECK(w.called() == V{"groq", "groq", "together"});
  CHECK(outcomes(r) ==
        O{TraceOutcome::retry, TraceOutcome::retry, TraceOutcome::skipped, TraceOutcome::ok});
  CHECK(r.trace[2].attempt == 0);
  CHECK(r.trace[2].reason == "circuit open: not sent");

  // The next call does not even plan groq while it is open...
  w.calls.clear();
  r = w.run(three(), call());
  CHECK(w.called() == V{"together"});

  // ...and after the cooldown one call probes it; the probe's success closes it.
  w.clock.advance_ms(60'000);
  w.calls.clear();
  r = w.run(three(), call());
  CHECK(w.called() == V{"groq"});
  CHECK(r.trace[0].reason.find("circuit half-open: this call probes it") != std::string::npos);
  CHECK(w.health.stats("groq", w.clock.now_unix_ms()).breaker == Breaker::closed);
}

TEST_CASE("a failed probe reopens the breaker and the call falls back") {
  World w(HealthOptions{.failure_threshold = 1, .cooldown_ms = 1'000});
  w.health.record_failure("groq", w.clock.now_unix_ms());
  w.clock.advance_ms(1'000);
  w.script["groq"] = {unreachable()};
  const RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(w.called() == V{"groq", "together"});
  CHECK(outcomes(r) == O{TraceOutcome::retry, TraceOutcome::skipped, TraceOutcome::ok});
  CHECK(w.health.stats("groq", w.clock.now_unix_ms()).breaker == Breaker::open);
}

TEST_CASE("local fallback when every remote provider is unreachable") {
  World w;
  w.retry.retries_per_candidate = 1;
  std::vector<Candidate> candidates = three();
  candidates.push_back(local("ollama"));
  RouteRequest request = call();
  request.constraints.allowed = {"groq", "venice"};
  request.local_fallback = true;
  w.script["groq"] = {unreachable(), unreachable()};
  w.script["venice"] = {http_failure(503), unreachable()};
  const RouteResult r = w.run(candidates, request);
  REQUIRE(r.response.ok());
  CHECK(r.response.value().provider == "ollama");
  CHECK(w.called() == V{"groq", "groq", "venice", "venice", "ollama"});
  CHECK(r.trace.back().reason.find("local fallback, tried only if") == 0);
  CHECK(w.settled == 1);
  CHECK(w.released == 4);
}

TEST_CASE("local fallback when every remote's circuit is open before the call") {
  World w(HealthOptions{.failure_threshold = 1});
  std::vector<Candidate> candidates = three();
  candidates.push_back(local("ollama"));
  for (const char* p : {"groq", "together", "venice"})
    w.health.record_failure(p, w.clock.now_unix_ms());
  RouteRequest request = call();
  request.constraints.allowed = {"groq", "together", "venice"};
  request.local_fallback = true;
  const RouteResult r = w.run(candidates, request);
  REQUIRE(r.response.ok());
  CHECK(w.called() == V{"ollama"});
}

TEST_CASE("no local fallback when a remote was reachable, or when the plan forbids it") {
  std::vector<Candidate> candidates = three();
  candidates.push_back(local("ollama"));
  RouteRequest request = call();
  request.constraints.allowed = {"groq", "venice"};
  request.local_fallback = true;

  World w;
  w.retry.retries_per_candidate = 0;
  w.script["groq"] = {unreachable()};
  w.script["venice"] = {http_failure(401, ErrorKind::auth)};
  RouteResult r = w.run(candidates, request);
  REQUIRE_FALSE(r.response.ok());
  CHECK(w.called() == V{"groq", "venice"});
  CHECK(r.response.error().message.find("local fallback not used") != std::string::npos);
  CHECK_FALSE(r.response.error().retryable);

  World w2;
  w2.retry.retries_per_candidate = 0;
  w2.script["groq"] = {unreachable()};
  w2.script["venice"] = {unreachable()};
  request.local_fallback = false;
  r = w2.run(candidates, request);
  REQUIRE_FALSE(r.response.ok());
  CHECK(w2.called() == V{"groq", "venice"});
}

TEST_CASE("nothing to route to: an error and no attempt") {
  World w;
  RouteRequest request = call();
  request.constraints.max_price = 1;
  const RouteResult r = w.run(three(), request);
  REQUIRE_FALSE(r.response.ok());
  CHECK(r.response.error().kind == ErrorKind::config);
  CHECK(r.response.error().message.find("no candidate can take this call: venice/m-venice "
                                        "(worst case $0.000006 exceeds") == 0);
  CHECK(w.calls.empty());
  CHECK(r.trace.empty());
}

TEST_CASE("every circuit open and no fallback: a retryable provider error, nothing sent") {
  World w(HealthOptions{.failure_threshold = 1});
  for (const char* p : {"groq", "together", "venice"})
    w.health.record_failure(p, w.clock.now_unix_ms());
  const RouteResult r = w.run(three(), call());
  REQUIRE_FALSE(r.response.ok());
  CHECK(r.response.error().kind == ErrorKind::provider);
  CHECK(r.response.error().retryable);
  CHECK(w.calls.empty());
}
