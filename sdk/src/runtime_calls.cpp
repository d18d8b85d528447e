// RuntimeImpl's model calls: each a step (traced, reported, streamed when asked) whose
// call is routed and metered (runtime_routing.cpp); model.chat_many's fan-out;
// embeddings for model.embed and memory.
#include "sdk/src/runtime_impl.hpp"

#include <algorithm>

#include "runtime/providers/sim_provider.hpp"
#include "sdk/src/route_trace.hpp"
#include "sdk/src/step_report.hpp"

namespace perdiem::sdk {

std::optional<Error> RuntimeImpl::needs_a_wallet(const sdk::PoolMember& member) const {
  if (!wallet_->is_ephemeral() || member.tags.local) return std::nullopt;
  return make_error(ErrorKind::insufficient_credits,
                    "no wallet is configured, so only free providers (sim, local servers) "
                    "can be used and '" +
                        member.name +
                        "' is paid: create a wallet with "
                        "`perdiem wallet init` and import a grant (docs/wallet.md)",
                    member.name);
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
  if (auto refused = needs_a_wallet(pool_.primary())) return *refused;
  Result<metering::MeteredEmbedding> metered =
      meter_.embed(*pool_.primary().provider, request, context);
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
  sdk::RouteTrace route_trace;
  lua::DeltaSink deltas;
  if (on_delta != nullptr || (options_.stream_chat && options_.on_step)) {
    deltas = [&report, on_delta](std::string_view text) {
      report.delta(text);
      return on_delta == nullptr || !*on_delta || (*on_delta)(text);
    };
  }
  Result<providers::ChatResponse> outcome =
      metered_chat(routed, context, run, route_trace, deltas ? &deltas : nullptr);
  report.route(std::move(route_trace));
  report.finished(outcome);
  return outcome;
}

Result<providers::ChatResponse> RuntimeImpl::metered_chat(const providers::ChatRequest& routed,
                                                          const metering::CallContext& context,
                                                          Run& run, sdk::RouteTrace& route_trace,
                                                          const lua::DeltaSink* on_delta) {
  Result<metering::MeteredResponse> metered =
      routed_call(routed, context, run, route_trace, on_delta);
  if (!metered) return metered.error();
  record_call(run, std::move(metered->settlement), metered->response.provider,
              metered->response.usage);
  providers::ChatResponse response = std::move(metered->response);
  response.cost_nanos = metered->cost;
  response.receipt_id = metered->receipt_id;
  return response;
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
