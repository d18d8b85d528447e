// RuntimeImpl's routed calls: which providers may serve a call (the pool's targets for
// its model, narrowed by route=), ranked by the router, then walked attempt by attempt,
// each attempt metered on its own, with the decision kept for the step's trace.
#include <thread>

#include "base/random.hpp"
#include "sdk/src/route_trace.hpp"
#include "sdk/src/runtime_impl.hpp"

namespace perdiem::sdk {


Result<router::Plan> RuntimeImpl::plan_for(const providers::ChatRequest& request) {
  const router::RouteRequest route =
      route_request(request, options_.routing, options_.default_max_tokens);
  std::vector<router::Candidate> candidates;
  std::vector<std::string> left_out;  // candidates that cannot be tried on this machine
  std::optional<Error> only_error;    // why the single target failed, as its own error
  std::vector<sdk::PoolTarget> targets = pool_.targets_for(request.model);
  // A model no route names, sent to providers the call chose by name: each under that
  // model id (`perdiem providers test`, or a plan that knows a provider's own ids).
  if (!pool_.is_route(request.model) && request.route && !request.route->providers.empty()) {
    targets.clear();
    for (const std::string& name : request.route->providers) {
      const sdk::PoolMember* member = pool_.find(name);
      if (member == nullptr) {
        return make_error(ErrorKind::config,
                          "route names provider '" + name +
                              "', which this runtime does not have (perdiem providers list)",
                          "router");
      }
      targets.push_back(sdk::PoolTarget{member, request.model});
    }
  }
  for (const sdk::PoolTarget& target : targets) {
    const sdk::PoolMember& member = *target.member;
    std::optional<Error> refused;
    if (!member.provider) {
      refused = make_error(ErrorKind::config, member.unavailable, member.name);
    } else if (auto no_wallet = needs_a_wallet(member)) {
      refused = *no_wallet;
    }
    Result<wallet::Price> price = meter_.price_for(member.name, target.model);
    if (!refused && !price) refused = price.error();
    if (refused) {
      left_out.push_back(member.name + "/" + target.model + " (" + refused->message + ")");
      only_error = std::move(*refused);
      continue;
    }
    router::Candidate candidate;
    candidate.provider = member.name;
    candidate.model = target.model;
    candidate.price = {price->input_per_mtok, price->output_per_mtok, price->per_request};
    candidate.tags = member.tags;
    candidate.supports_tools = member.tools;
    candidates.push_back(std::move(candidate));
  }
  // One provider and nothing configured: its own error says best what to do.
  if (candidates.empty() && targets.size() == 1 && only_error) return *only_error;
  if (candidates.empty()) {
    std::string reasons;
    for (const std::string& one : left_out) reasons += (reasons.empty() ? "" : "; ") + one;
    return make_error(ErrorKind::config,
                      "no provider can serve model '" + request.model + "': " + reasons,
                      "router");
  }
  // Today's allowance per provider, read once for the call.
  std::optional<wallet::Balance> balance;
  if (candidates.size() > 1 && !wallet_->is_ephemeral()) {
    if (Result<wallet::Balance> read = wallet_->ledger().balance()) balance = std::move(*read);
  }
  router::AllowanceOracle allowance;
  if (balance) {
    allowance = [&balance](std::string_view provider) { return balance->allowance_for(provider); };
  }
  router::Plan plan = router::plan_route(candidates, route, health_, allowance,
                                         base::system_clock().now_unix_ms());
  for (const std::string& one : left_out) plan.reason += "; left out " + one;
  return plan;
}

Result<metering::MeteredResponse> RuntimeImpl::routed_call(const providers::ChatRequest& request,
                                                           const metering::CallContext& context,
                                                           const Run& run,
                                                           sdk::RouteTrace& route_trace,
                                                           const lua::DeltaSink* on_delta) {
  const auto stopped = [&run] {
    return (run.cancel != nullptr && run.cancel->load()) ||
           (run.deadline && std::chrono::steady_clock::now() >= *run.deadline);
  };
  Result<router::Plan> plan = plan_for(request);
  if (!plan) return plan.error();

  std::optional<metering::MeteredResponse> metered;
  // Failed attempts the wallet charged anyway (partial output, or possibly billed).
  std::vector<ChargedFailure> charged_failures;
  router::AttemptFn attempt = [&](const router::Candidate& candidate,
                                  int number) -> router::AttemptResult {
    if (stopped()) {
      return make_error(ErrorKind::cancelled, "the run was cancelled or ran out of time",
                        candidate.provider);
    }
    const sdk::PoolMember* member = pool_.find(candidate.provider);
    // The request under the candidate's own model id: a copy only when that differs.
    std::optional<providers::ChatRequest> renamed;
    if (candidate.model != request.model) {
      renamed.emplace(request);
      renamed->model = candidate.model;
    }
    // Moved into the meter when renamed (this attempt's own copy), else copied there.
    providers::ChatRequest sent = renamed ? std::move(*renamed) : request;
    metering::CallContext this_attempt = context;
    this_attempt.attempt = number;
    providers::ChatCall call;
    call.abandon = run.cancel;  // Ctrl-C does not wait for a slow provider
    if (on_delta != nullptr && *on_delta) {
      call.on_text = [&call, on_delta](std::string_view text) {
        if (!(*on_delta)(text)) call.stop_requested = true;
      };
    }
    Result<metering::MeteredResponse> result =
        meter_.chat(*member->provider, std::move(sent), this_attempt, call);
    if (!result) {
      if (call.charged_nanos > 0)
        charged_failures.push_back(charged_failure(candidate.provider, number, call));
      return attempt_outcome(result.error(), call);
    }
    // The answer goes to the router and comes back in routed.response: moved, not copied.
    metered = std::move(*result);
    return attempt_outcome(std::move(metered->response), call);
  };
  const base::Clock& clock = base::system_clock();
  base::Random& jitter = base::thread_jitter();
  router::RetryOptions retry;
  retry.retries_per_candidate = options_.routing.retries;
  router::RouterEnv env{health_, clock, jitter,
                        [this, &stopped](std::chrono::milliseconds delay) {
                          if (options_.on_log) {
                            options_.on_log(LogLevel::warn, "retrying in " +
                                                                std::to_string(delay.count()) +
                                                                " ms");
                          }
                          // In slices, so Ctrl-C or the deadline ends a long Retry-After.
                          const auto until = std::chrono::steady_clock::now() + delay;
                          while (!stopped() && std::chrono::steady_clock::now() < until) {
                            std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
                                std::chrono::milliseconds(20),
                                until - std::chrono::steady_clock::now()));
                          }
                        },
                        retry};
  router::RouteResult routed = router::route_call(*plan, attempt, env);
  route_trace = describe_route(request.model,
                               route_request(request, options_.routing, options_.default_max_tokens),
                               std::move(plan->reason), std::move(routed.trace));
  route_trace.charged_failures = std::move(charged_failures);
  if (!routed.response) return routed.response.error();
  metered->response = std::move(*routed.response);
  return std::move(*metered);
}

}  // namespace perdiem::sdk
