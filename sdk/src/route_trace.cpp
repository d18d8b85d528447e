#include "sdk/src/route_trace.hpp"

#include "runtime/metering/meter.hpp"

namespace perdiem::sdk {

router::RouteRequest route_request(const providers::ChatRequest& request,
                                   const RoutingOptions& routing, int default_max_tokens) {
  router::RouteRequest route;
  route.input_tokens = metering::max_input_tokens(request);
  route.max_output_tokens = request.max_tokens.value_or(default_max_tokens);
  route.constraints.tools = !request.tools.empty();
  route.local_fallback = routing.local_fallback;
  std::string prefer = routing.prefer;
  if (request.route) {
    const providers::RoutePreferences& wanted = *request.route;
    if (!wanted.prefer.empty()) prefer = wanted.prefer;
    route.constraints.max_price = wanted.max_price_nanos;
    route.constraints.privacy = router::parse_privacy(wanted.privacy);
    route.constraints.allowed = wanted.providers;
    route.constraints.denied = wanted.exclude;
    if (wanted.fallback) route.local_fallback = *wanted.fallback;
  }
  route.policy = router::parse_policy(prefer).value_or(router::Policy::cheapest);
  return route;
}

nlohmann::json describe_route(const std::string& model, const router::RouteRequest& request,
                              const router::Plan& plan,
                              const std::vector<router::TraceEntry>& attempts) {
  nlohmann::json tried = nlohmann::json::array();
  for (const router::TraceEntry& entry : attempts) {
    tried.push_back({{"provider", entry.provider},
                     {"model", entry.model},
                     {"attempt", entry.attempt},
                     {"outcome", router::to_string(entry.outcome)},
                     {"latency_ms", entry.latency.count() / 1000},
                     {"waited_ms", entry.waited.count()},
                     {"reason", entry.reason}});
  }
  return {{"model", model},
          {"policy", router::to_string(request.policy)},
          {"decision", plan.reason},
          {"attempts", std::move(tried)}};
}

router::AttemptResult attempt_outcome(const Result<metering::MeteredResponse>& result,
                                      const providers::ChatCall& call) {
  router::AttemptResult outcome = result ? router::AttemptResult(result.value().response)
                                         : router::AttemptResult(result.error());
  outcome.http_status = call.http_status;
  outcome.retry_after = call.retry_after;
  outcome.partial_output = call.partial_output;
  outcome.ttft_us = call.ttft_us;
  return outcome;
}

nlohmann::json charged_failure(const std::string& provider, int attempt,
                               const providers::ChatCall& call) {
  return {{"provider", provider},
          {"attempt", attempt},
          {"cost_nanos", call.charged_nanos},
          {"receipt", call.charged_receipt}};
}

}  // namespace perdiem::sdk
