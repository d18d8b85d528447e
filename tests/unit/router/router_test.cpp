// The executor against scripted attempts: retries, fallback to the next candidate,
// final errors, the trace, and that the attempt function (one metered call each) runs
// exactly as planned, so failed attempts are released and the success is charged once.
#include "runtime/router/router.hpp"

#include <doctest/doctest.h>

#include "route_world.hpp"

using namespace perdiem;
using namespace perdiem::router;
using namespace perdiem::router::testing;

TEST_CASE("the first choice answers: one attempt, charged once, traced with its reason") {
  World w;
  const RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(r.response.value().provider == "groq");
  CHECK(w.calls == std::vector<std::pair<std::string, int>>{{"groq", 1}});
  CHECK(w.settled == 1);
  CHECK(w.released == 0);
  REQUIRE(r.trace.size() == 1);
  CHECK(r.trace[0].provider == "groq");
  CHECK(r.trace[0].model == "m-groq");
  CHECK(r.trace[0].outcome == TraceOutcome::ok);
  CHECK(r.trace[0].latency == std::chrono::microseconds(40'000));
  CHECK(r.trace[0].reason.find("rank 1, worst case $0.000002, paid") == 0);
  CHECK(w.health.stats("groq", 0).total_us == 40'000);
  CHECK(w.slept.empty());
}

TEST_CASE("a retryable failure is retried at the same provider after a bounded backoff") {
  World w;
  w.script["groq"] = {http_failure(503), unreachable()};
  const RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(w.called() == V{"groq", "groq", "groq"});
  CHECK(outcomes(r) == O{TraceOutcome::retry, TraceOutcome::retry, TraceOutcome::ok});
  REQUIRE(w.slept.size() == 2);
  CHECK(w.slept[0] <= w.retry.base_delay);
  CHECK(w.slept[1] <= 2 * w.retry.base_delay);
  CHECK(r.trace[1].waited == w.slept[0]);
  CHECK(r.trace[2].reason.find("retry 2 -> answered") == 0);
  // Two failed attempts released, the third charged once.
  CHECK(w.reserved == 3);
  CHECK(w.released == 2);
  CHECK(w.settled == 1);
}

TEST_CASE("retries exhausted: fall back to the next candidate") {
  World w;
  w.script["groq"] = {http_failure(500), http_failure(502), http_failure(503)};
  const RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(r.response.value().provider == "together");
  CHECK(w.called() == V{"groq", "groq", "groq", "together"});
  CHECK(outcomes(r) == O{TraceOutcome::retry, TraceOutcome::retry, TraceOutcome::next_candidate,
                         TraceOutcome::ok});
  CHECK(r.trace[2].reason.find("gave up after 3 attempts") != std::string::npos);
  CHECK(w.slept.size() == 2);  // no wait before a different provider
  CHECK(r.trace[3].waited == milliseconds(0));
  CHECK(w.calls.back().second == 4);  // attempts count across the call
  CHECK(w.settled == 1);
  CHECK(w.released == 3);
}

TEST_CASE("a final error is not retried and ends the call") {
  World w;
  w.script["groq"] = {http_failure(400)};
  const RouteResult r = w.run(three(), call());
  REQUIRE_FALSE(r.response.ok());
  CHECK(r.response.error().message == "HTTP 400");
  CHECK(w.called() == V{"groq"});
  CHECK(outcomes(r) == O{TraceOutcome::stop});
  CHECK(w.settled == 0);
  CHECK(w.health.stats("groq", 0).samples == 0);  // the request's fault, not groq's
}

TEST_CASE("credentials refused: no retry, straight to the next candidate") {
  World w;
  w.script["groq"] = {http_failure(401, ErrorKind::auth)};
  const RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(w.called() == V{"groq", "together"});
  CHECK(w.slept.empty());
}

TEST_CASE("the wallet refusing one candidate moves on without touching its health") {
  World w;
  w.script["groq"] = {make_error(ErrorKind::insufficient_credits, "no credit", "wallet")};
  const RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(w.called() == V{"groq", "together"});
  CHECK(w.health.stats("groq", 0).samples == 0);
}

TEST_CASE("an attempt that had streamed part of its answer is never retried") {
  World w;
  AttemptResult cut = unreachable();
  cut.partial_output = true;
  w.script["groq"] = {cut};
  const RouteResult r = w.run(three(), call());
  REQUIRE_FALSE(r.response.ok());
  CHECK(r.response.error().kind == ErrorKind::transport);
  CHECK(w.called() == V{"groq"});
  CHECK(outcomes(r) == O{TraceOutcome::stop});
  CHECK(w.health.stats("groq", 0).consecutive_failures == 1);
}

TEST_CASE("Retry-After is honoured, or the call moves on when it is too long") {
  World w;
  AttemptResult slow_down = http_failure(429, ErrorKind::rate_limited);
  slow_down.retry_after = milliseconds(7'000);
  w.script["groq"] = {slow_down};
  RouteResult r = w.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(w.slept == std::vector<milliseconds>{milliseconds(7'000)});
  CHECK(r.trace[0].reason.find("retrying in 7000 ms") != std::string::npos);

  World w2;
  slow_down.retry_after = milliseconds(120'000);
  w2.script["groq"] = {slow_down};
  r = w2.run(three(), call());
  REQUIRE(r.response.ok());
  CHECK(w2.called() == V{"groq", "together"});
  CHECK(w2.slept.empty());
}

TEST_CASE("every candidate failing gives one error naming each failure") {
  World w;
  w.retry.retries_per_candidate = 0;
  w.script["groq"] = {unreachable()};
  w.script["together"] = {http_failure(503)};
  w.script["venice"] = {unreachable()};
  const RouteResult r = w.run(three(), call());
  REQUIRE_FALSE(r.response.ok());
  const Error& e = r.response.error();
  CHECK(e.kind == ErrorKind::transport);
  CHECK(e.retryable);
  CHECK(e.source == "router");
  CHECK(e.message ==
        "every candidate failed: groq: connection refused; together: HTTP 503; venice: "
        "connection refused");
  CHECK(w.settled == 0);
  CHECK(w.released == 3);
}

TEST_CASE("when the last failure is a refusal for money, the final error keeps its amounts") {
  World w;
  w.retry.retries_per_candidate = 0;
  w.script["groq"] = {unreachable()};
  w.script["together"] = {make_refusal(ErrorKind::budget_exceeded, "run budget exceeded",
                                       /*needed=*/4'000, /*available=*/1'500, "wallet")};
  w.script["venice"] = {make_refusal(ErrorKind::insufficient_credits, "insufficient credits",
                                     /*needed=*/5'000, /*available=*/2'000, "wallet")};
  const RouteResult r = w.run(three(), call());
  REQUIRE_FALSE(r.response.ok());
  const Error& e = r.response.error();
  CHECK(e.kind == ErrorKind::insufficient_credits);
  CHECK(e.needed_nanos == 5'000);
  CHECK(e.available_nanos == 2'000);

  World transport_last;
  transport_last.retry.retries_per_candidate = 0;
  transport_last.script["groq"] = {
      make_refusal(ErrorKind::budget_exceeded, "run budget exceeded", 4'000, 1'500, "wallet")};
  transport_last.script["together"] = {unreachable()};
  transport_last.script["venice"] = {unreachable()};
  const RouteResult t = transport_last.run(three(), call());
  REQUIRE_FALSE(t.response.ok());
  CHECK(t.response.error().kind == ErrorKind::transport);
  CHECK_FALSE(t.response.error().needed_nanos.has_value());  // no amounts for another kind
}

TEST_CASE("the plan explains itself") {
  HealthBook health;
  std::vector<Candidate> candidates = three();
  RouteRequest request = call();
  request.constraints.denied = {"venice"};
  const Plan plan = plan_route(candidates, request, health, {}, 0);
  CHECK(plan.reason ==
        "by cheapest: 1. groq/m-groq (worst case $0.000002, paid; never tried); "
        "2. together/m-together (worst case $0.000004, paid; never tried); "
        "rejected: venice/m-venice (provider 'venice' is denied by the call)");
}

TEST_CASE("the same seed and script give the same trace") {
  auto once = [] {
    World w;
    w.script["groq"] = {http_failure(503), http_failure(503), http_failure(503)};
    w.script["together"] = {unreachable()};
    const RouteResult r = w.run(three(), call());
    std::vector<std::string> lines;
    for (const TraceEntry& e : r.trace)
      lines.push_back(e.provider + " " + std::to_string(e.waited.count()) + " " + e.reason);
    return lines;
  };
  CHECK(once() == once());
}

TEST_CASE("a session can be driven step by step, as an event loop would") {
  HealthBook health;
  base::SeededRandom random(3);
  const std::vector<Candidate> candidates = three();
  const Plan plan = plan_route(candidates, call(), health, {}, 0);
  RouteSession session(plan, health, random, RetryOptions{});
  auto step = session.next(0);
  REQUIRE(step);
  CHECK(step->candidate->candidate.provider == "groq");
  CHECK(step->attempt == 1);
  session.record(unreachable(), 1'000, 0);
  step = session.next(0);
  REQUIRE(step);
  CHECK(step->attempt == 2);
  CHECK(step->delay <= milliseconds(250));
  providers::ChatResponse ok;
  ok.content = "done";
  session.record(ok, 2'000, 0);
  CHECK_FALSE(session.next(0));
  const RouteResult r = session.finish();
  REQUIRE(r.response.ok());
  CHECK(r.response.value().content == "done");
}
