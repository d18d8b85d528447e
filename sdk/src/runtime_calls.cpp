// RuntimeImpl's model calls: each metered (reserved, sent, settled), routed with retries,
// traced as a step; model.chat_many's fan-out; embeddings for model.embed and memory.
#include "sdk/src/runtime_impl.hpp"

#include <algorithm>
#include <thread>

#include "base/random.hpp"
#include "runtime/providers/sim_provider.hpp"
#include "sdk/src/step_report.hpp"

namespace perdiem::sdk {

std::optional<Error> RuntimeImpl::needs_a_wallet() const {
  if (!wallet_->is_ephemeral() || local_) return std::nullopt;
  return make_error(ErrorKind::insufficient_credits,
                    "no wallet is configured, so only free providers (sim, local servers) "
                    "can be used and '" +
                        provider_name_ +
                        "' is paid: create a wallet with "
                        "`perdiem wallet init` and import a grant (docs/wallet.md)",
                    provider_name_);
}

std::optional<Error> RuntimeImpl::step_limit_reached(const Run& run) {
  if (run.max_steps == 0 || static_cast<std::uint64_t>(run.steps) < run.max_steps) {
    return std::nullopt;
  }
  return make_error(ErrorKind::limit, "the run reached its step limit of " +
                                          std::to_string(run.max_steps) +
                                          " model calls (--max-steps, RunOptions::max_steps)");
}

Result<providers::EmbedResponse> RuntimeImpl::embed(const providers::EmbedRequest& request,
                                                    Run& run) {
  Result<std::int64_t> step = next_step(run);
  if (!step) return step.error();
  metering::CallContext context{run.result.run_id, *step, run.budgets};
  sdk::StepReport report(options_.on_step, &memory_->store(), run.result.run_id, context.step,
                         provider_name_, request);
  Result<providers::EmbedResponse> outcome = metered_embed(request, context, run);
  report.finished(outcome);
  return outcome;
}

Result<providers::EmbedResponse> RuntimeImpl::metered_embed(const providers::EmbedRequest& request,
                                                            const metering::CallContext& context,
                                                            Run& run) {
  if (auto refused = needs_a_wallet()) return *refused;
  Result<metering::MeteredEmbedding> metered = meter_.embed(*provider_, request, context);
  if (!metered) return metered.error();
  record_call(run, std::move(metered->settlement), metered->response.provider,
              metered->response.usage);
  providers::EmbedResponse response = std::move(metered->response);
  response.cost_nanos = metered->cost;
  response.receipt_id = metered->receipt_id;
  return response;
}

void RuntimeImpl::count_call(RunResult& result, const std::string& provider,
                             const providers::Usage& usage) {
  result.usage.model_calls += 1;
  result.usage.input_tokens += usage.input_tokens;
  result.usage.output_tokens += usage.output_tokens;
  if (std::find(result.providers.begin(), result.providers.end(), provider) ==
      result.providers.end()) {
    result.providers.push_back(provider);
  }
}

std::vector<Result<providers::ChatResponse>> RuntimeImpl::chat_many(
    const std::vector<providers::ChatRequest>& requests, Run& run) {
  // Steps are numbered in request order before any call starts.
  std::vector<Result<std::int64_t>> steps;
  for (std::size_t i = 0; i < requests.size(); ++i) steps.push_back(next_step(run));
  return run_at_once(requests.size(), [this, &requests, &steps, &run](std::size_t i) {
    if (!steps[i]) return Result<providers::ChatResponse>(steps[i].error());
    return chat_step(requests[i], *steps[i], run);
  });
}

Result<providers::ChatResponse> RuntimeImpl::chat_step(const providers::ChatRequest& request,
                                                       std::int64_t step, Run& run,
                                                       const lua::DeltaSink* on_delta) {
  providers::ChatRequest routed = request;
  if (routed.model.empty()) routed.model = model_;
  // As the meter sends it, so the trace holds the request as sent (replay matches it).
  if (!routed.max_tokens) routed.max_tokens = options_.default_max_tokens;
  metering::CallContext context{run.result.run_id, step, run.budgets};
  sdk::StepReport report(options_.on_step, &memory_->store(), run.result.run_id, context.step,
                         provider_name_, routed);
  lua::DeltaSink deltas;
  if (on_delta != nullptr || (options_.stream_chat && options_.on_step)) {
    deltas = [&report, on_delta](std::string_view text) {
      report.delta(text);
      return on_delta == nullptr || !*on_delta || (*on_delta)(text);
    };
  }
  Result<providers::ChatResponse> outcome =
      metered_chat(routed, context, run, deltas ? &deltas : nullptr);
  report.finished(outcome);
  return outcome;
}

Result<providers::ChatResponse> RuntimeImpl::metered_chat(const providers::ChatRequest& routed,
                                                          const metering::CallContext& context,
                                                          Run& run,
                                                          const lua::DeltaSink* on_delta) {
  if (auto refused = needs_a_wallet()) return *refused;
  Result<metering::MeteredResponse> metered = routed_call(routed, context, on_delta);
  if (!metered) return metered.error();
  record_call(run, std::move(metered->settlement), metered->response.provider,
              metered->response.usage);
  providers::ChatResponse response = std::move(metered->response);
  response.cost_nanos = metered->cost;
  response.receipt_id = metered->receipt_id;

  return response;
}

Result<metering::MeteredResponse> RuntimeImpl::routed_call(const providers::ChatRequest& request,
                                                           const metering::CallContext& context,
                                                           const lua::DeltaSink* on_delta) {
  Result<wallet::Price> price = meter_.price_for(provider_->name(), request.model);
  if (!price) return price.error();
  router::Candidate candidate;
  candidate.provider = provider_->name();
  candidate.model = request.model;
  candidate.price = {price->input_per_mtok, price->output_per_mtok, price->per_request};
  candidate.tags.local = local_;
  router::RouteRequest route;
  route.input_tokens = metering::max_input_tokens(request);
  route.max_output_tokens = request.max_tokens.value_or(options_.default_max_tokens);
  const base::Clock& clock = base::system_clock();
  router::Plan plan = router::plan_route({&candidate, 1}, route, health_, {}, clock.now_unix_ms());

  std::optional<metering::MeteredResponse> metered;
  router::AttemptFn attempt = [&](const router::Candidate&, int number) -> router::AttemptResult {
    metering::CallContext this_attempt = context;
    this_attempt.attempt = number;
    providers::ChatCall call;
    if (on_delta != nullptr && *on_delta) {
      call.on_text = [&call, on_delta](std::string_view text) {
        if (!(*on_delta)(text)) call.stop_requested = true;
      };
    }
    Result<metering::MeteredResponse> result =
        meter_.chat(*provider_, request, this_attempt, call);
    router::AttemptResult outcome = result ? router::AttemptResult(result->response)
                                           : router::AttemptResult(result.error());
    outcome.http_status = call.http_status;
    outcome.retry_after = call.retry_after;
    outcome.partial_output = call.partial_output;
    outcome.ttft_us = call.ttft_us;
    if (result) metered = std::move(*result);
    return outcome;
  };
  base::SeededRandom jitter(base::secure_random().next_u64());
  router::RouterEnv env{health_, clock, jitter,
                        [this](std::chrono::milliseconds delay) {
                          if (options_.on_log) {
                            options_.on_log(LogLevel::warn, "retrying " + provider_name_ + " in " +
                                                                std::to_string(delay.count()) +
                                                                " ms");
                          }
                          std::this_thread::sleep_for(delay);
                        },
                        router::RetryOptions{}};
  router::RouteResult routed = router::route_call(plan, attempt, env);
  if (!routed.response) return routed.response.error();
  return std::move(*metered);
}

Result<memory::EmbeddingModel> RuntimeImpl::embedding_model(const std::string& name, Run& run) {
  memory::EmbeddingModel model;
  model.name = name.empty() ? options_.embedding_model : name;
  model.dim = options_.embedding_dimensions;
  if (model.name.empty() && provider_name_ == "sim") {
    model.name = "sim-embed";
    model.dim = providers::kSimEmbeddingDimensions;
  }
  if (model.name == "sim-embed" && provider_name_ == "sim")
    model.dim = providers::kSimEmbeddingDimensions;
  if (model.name.empty() || model.dim == 0) {
    return make_error(ErrorKind::config,
                      "memory needs an embedding model and its dimensions for vector search: "
                      "set RuntimeOptions::embedding_model and embedding_dimensions",
                      provider_name_);
  }
  model.embed =
      [this, &run, name = model.name](
          const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
    Result<providers::EmbedResponse> response = embed(providers::EmbedRequest{name, texts}, run);
    if (!response) return response.error();
    return std::move(response->vectors);
  };
  return model;
}

}  // namespace perdiem::sdk
