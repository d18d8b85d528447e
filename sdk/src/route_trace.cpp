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
  using json_text::append_int;
  using json_text::append_key;
  using json_text::append_string;
  std::string out;
  out.reserve(160 + route.decision.size() + 96 * route.attempts.size());
  out += '{';
  append_key(out, "attempts");
  out += '[';
  for (const router::TraceEntry& entry : route.attempts) {
    if (out.back() != '[') out += ',';
    out += '{';
    append_key(out, "attempt");
    append_int(out, entry.attempt);
    out += ',';
    append_key(out, "latency_ms");
    append_int(out, entry.latency.count() / 1000);
    out += ',';
    append_key(out, "model");
    append_string(out, entry.model);
    out += ',';
    append_key(out, "outcome");
    append_string(out, router::to_string(entry.outcome));
    out += ',';
    append_key(out, "provider");
    append_string(out, entry.provider);
    out += ',';
    append_key(out, "reason");
    append_string(out, entry.reason);
    out += ',';
    append_key(out, "waited_ms");
    append_int(out, entry.waited.count());
    out += '}';
  }
  out += "],";
  if (!route.charged_failures.empty()) {
    append_key(out, "charged_failures");
    out += '[';
    for (const ChargedFailure& failure : route.charged_failures) {
      if (out.back() != '[') out += ',';
      out += '{';
      append_key(out, "attempt");
      append_int(out, failure.attempt);
      out += ',';
      append_key(out, "cost_nanos");
      append_int(out, failure.cost_nanos);
      out += ',';
      append_key(out, "provider");
      append_string(out, failure.provider);
      out += ',';
      append_key(out, "receipt");
      append_string(out, failure.receipt);
      out += '}';
    }
    out += "],";
  }
  append_key(out, "decision");
  append_string(out, route.decision);
  out += ',';
  append_key(out, "model");
  append_string(out, route.model);
  out += ',';
  append_key(out, "policy");
  append_string(out, router::to_string(route.policy));
  out += '}';
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
