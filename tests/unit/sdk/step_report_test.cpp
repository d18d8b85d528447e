// StepReport: what a failed call's finished event says it cost, when the wallet charged
// failed attempts anyway (recorded by the routed call under "charged_failures").
#include <doctest/doctest.h>

#include "sdk/src/step_report.hpp"

using namespace perdiem;

TEST_CASE("a failed call's finished event carries what its failed attempts were charged") {
  std::vector<StepEvent> events;
  const sdk::StepSink sink = [&events](const StepEvent& event) { events.push_back(event); };
  providers::ChatRequest request;
  request.model = "m";
  request.messages = {{"user", "hi"}};
  {
    sdk::StepReport report(sink, nullptr, "run-1", 1, "venice", request);
    sdk::RouteTrace route;
    route.model = "m";
    route.charged_failures = {{"venice", 1, 1200, "41"}, {"groq", 2, 300, "42"}};
    report.route(std::move(route));
    report.finished(Result<providers::ChatResponse>(
        make_error(ErrorKind::transport, "cut off", "groq", false)));
  }
  sdk::StepReport released(sink, nullptr, "run-1", 2, "venice", request);
  released.finished(Result<providers::ChatResponse>(make_error(ErrorKind::auth, "no", "venice")));

  REQUIRE(events.size() == 4);
  CHECK(events[1].phase == StepPhase::finished);
  CHECK(events[1].cost_nanos == 1500);
  CHECK(events[1].receipt_id == "41");
  REQUIRE(events[1].error);
  CHECK(events[3].cost_nanos == 0);  // nothing charged, nothing claimed
  CHECK(events[3].receipt_id.empty());
}
