// What routed calls share, blocking (runtime_routing.cpp) or on the event loop
// (runtime_async_chat.cpp): the router's view of a call, one attempt's outcome as the
// router reads it, and the decision as the step's trace keeps it. Internal to sdk/src.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/routing.hpp"
#include "runtime/metering/meter.hpp"
#include "runtime/router/router.hpp"

namespace perdiem::sdk {

// The router's view of `request`: its size, constraints and the policy (route= over the
// runtime's routing options).
router::RouteRequest route_request(const providers::ChatRequest& request,
                                   const RoutingOptions& routing, int default_max_tokens);

// The decision and every attempt, for the step's trace ("route").
nlohmann::json describe_route(const std::string& model, const router::RouteRequest& request,
                              const router::Plan& plan,
                              const std::vector<router::TraceEntry>& attempts);

// One metered attempt as the router reads it: the answer or error, with what the adapter
// learned (status, Retry-After, partial output, time to first token).
router::AttemptResult attempt_outcome(const Result<metering::MeteredResponse>& result,
                                      const providers::ChatCall& call);

// A failed attempt the wallet charged anyway, for the trace's charged_failures.
nlohmann::json charged_failure(const std::string& provider, int attempt,
                               const providers::ChatCall& call);

}  // namespace perdiem::sdk
