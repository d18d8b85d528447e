// What routed calls share, blocking (runtime_routing.cpp) or on the event loop
// (runtime_async_chat.cpp): the router's view of a call, one attempt's outcome as the
// router reads it, and the decision as the step's trace keeps it. Internal to sdk/src.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "perdiem/routing.hpp"
#include "runtime/metering/meter.hpp"
#include "runtime/router/router.hpp"

namespace perdiem::sdk {

// The router's view of `request`: its size, constraints and the policy (route= over the
// runtime's routing options).
router::RouteRequest route_request(const providers::ChatRequest& request,
                                   const RoutingOptions& routing, int default_max_tokens);

// A failed attempt the wallet charged anyway (partial output, or possibly billed).
struct ChargedFailure {
  std::string provider;
  int attempt = 0;
  std::int64_t cost_nanos = 0;
  std::string receipt;
};

// How the router served one call, kept with the step's trace as its "route": the
// decision, every attempt and the charged failures. Held as values and written as JSON
// text once, when the step is recorded (route_json).
struct RouteTrace {
  std::string model;
  router::Policy policy = router::Policy::cheapest;
  std::string decision;
  std::vector<router::TraceEntry> attempts;
  std::vector<ChargedFailure> charged_failures;
};

// The decision and every attempt, for the step's trace ("route"). Takes the plan's
// reason and the attempts by value: callers are done with them.
RouteTrace describe_route(std::string model, const router::RouteRequest& request,
                          std::string decision, std::vector<router::TraceEntry> attempts);

// The route as the trace stores it: compact JSON with sorted keys, {"attempts": [...],
// "charged_failures": [...] (only when there are any), "decision", "model", "policy"}.
std::string route_json(const RouteTrace& route);

// One metered attempt as the router reads it: the answer (moved in: the router hands it
// back in its RouteResult) or error, with what the adapter learned (status, Retry-After,
// partial output, time to first token).
router::AttemptResult attempt_outcome(Result<providers::ChatResponse> answer,
                                      const providers::ChatCall& call);

// A failed attempt the wallet charged anyway, for the trace's charged_failures.
ChargedFailure charged_failure(const std::string& provider, int attempt,
                               const providers::ChatCall& call);

}  // namespace perdiem::sdk
