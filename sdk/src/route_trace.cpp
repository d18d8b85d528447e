#include "sdk/src/route_trace.hpp"

#include "runtime/metering/meter.hpp"
#include "sdk/src/json_text.hpp"

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

RouteTrace describe_route(std::string model, const router::RouteRequest& request,
                          std::string decision, std::vector<router::TraceEntry> attempts) {
  RouteTrace route;
  route.model = std::move(model);
  route.policy = request.policy;
  route.decision = std::move(decision);
  route.attempts = std::move(attempts);
  return route;
}

std::string route_json(const RouteTrace& route) {
  std::string out;
  out.reserve(160 + route.decision.size() + 96 * route.attempts.size());
  json_text::Writer json(out);
  json.begin_object().key("attempts").begin_array();
  for (const router::TraceEntry& entry : route.attempts) {
    json.begin_object()
        .field("attempt", entry.attempt)
        .field("latency_ms", entry.latency.count() / 1000)
        .field("model", entry.model)
        .field("outcome", router::to_string(entry.outcome))
        .field("provider", entry.provider)
        .field("reason", entry.reason)
        .field("waited_ms", entry.waited.count())
        .end_object();
  }
  json.end_array();
  if (!route.charged_failures.empty()) {
    json.key("charged_failures").begin_array();
    for (const ChargedFailure& failure : route.charged_failures) {
      json.begin_object()
          .field("attempt", failure.attempt)
          .field("cost_nanos", failure.cost_nanos)
          .field("provider", failure.provider)
          .field("receipt", failure.receipt)
          .end_object();
    }
    json.end_array();
  }
  json.field("decision", route.decision)
      .field("model", route.model)
      .field("policy", router::to_string(route.policy))
      .end_object();
  return out;
}

router::AttemptResult attempt_outcome(Result<providers::ChatResponse> answer,
                                      const providers::ChatCall& call) {
  router::AttemptResult outcome(std::move(answer));
  outcome.http_status = call.http_status;
  outcome.retry_after = call.retry_after;
  outcome.partial_output = call.partial_output;
  outcome.ttft_us = call.ttft_us;
  return outcome;
}

ChargedFailure charged_failure(const std::string& provider, int attempt,
                               const providers::ChatCall& call) {
  return {provider, attempt, call.charged_nanos, call.charged_receipt};
}

}  // namespace perdiem::sdk
