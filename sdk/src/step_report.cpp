#include "sdk/src/step_report.hpp"

#include "sdk/src/trace_format.hpp"

namespace perdiem::sdk {

StepReport::StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
                       std::int64_t step, const std::string& provider,
                       const providers::ChatRequest& request)
    : sink_(sink), trace_(trace) {
  if (sink_ || trace_) request_ = request_text(request);
  start(StepKind::chat, run_id, step, provider, request.model);
}

StepReport::StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
                       std::int64_t step, const std::string& provider,
                       const providers::EmbedRequest& request)
    : sink_(sink), trace_(trace) {
  if (sink_ || trace_) request_ = request_document(request).dump();
  start(StepKind::embed, run_id, step, provider, request.model);
}

StepReport::StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
                       std::int64_t step, const std::string& name, const nlohmann::json& arguments)
    : sink_(sink), trace_(trace) {
  if (sink_ || trace_) request_ = nlohmann::json{{"name", name}, {"arguments", arguments}}.dump();
  start(StepKind::tool, run_id, step, "tool", name);
}

void StepReport::finished(const Result<std::string>& outcome, std::int64_t cost,
                          const std::string& receipt) {
  if (!outcome) return finish(&outcome.error(), {}, {}, nullptr, cost, receipt, {});
  if (sink_) event_.response_text = outcome.value();
  finish(nullptr, {}, {}, nullptr, cost, receipt,
         // A tool's text may be any bytes (a latin-1 page): replaced, never thrown on.
         trace_ ? nlohmann::json{{"result", outcome.value()}}.dump(
                      -1, ' ', false, nlohmann::json::error_handler_t::replace)
                : std::string());
}

void StepReport::start(StepKind kind, const std::string& run_id, std::int64_t step,
                       const std::string& provider, const std::string& model) {
  event_.run_id = run_id;
  event_.step = step;
  event_.kind = kind;
  event_.phase = StepPhase::started;
  event_.provider = provider;
  event_.model = model;
  started_at_ = std::chrono::steady_clock::now();
  if (!sink_) return;
  event_.request_json = request_;
  deliver();
}

void StepReport::delta(std::string_view text) {
  if (!sink_) return;
  event_.phase = StepPhase::delta;
  event_.delta_text.assign(text);
  deliver();
  event_.delta_text.clear();
  event_.phase = StepPhase::started;
}

void StepReport::finished(const Result<providers::ChatResponse>& outcome) {
  if (!outcome) {
    // A failed call can still have been charged (its answer had started to stream, or
    // the provider may have billed it): the event and the trace say so.
    std::int64_t charged = 0;
    std::string receipt;
    if (route_) {
      for (const ChargedFailure& failure : route_->charged_failures) {
        charged += failure.cost_nanos;
        if (receipt.empty()) receipt = failure.receipt;
      }
    }
    // The trace keeps the route even with no answer: {"route": ...}.
    std::string response;
    if (trace_ && route_) response = "{\"route\":" + route_json(*route_) + "}";
    return finish(&outcome.error(), {}, {}, nullptr, charged, receipt, std::move(response));
  }
  if (sink_) event_.response_text = outcome->content;
  finish(nullptr, outcome->provider, outcome->model, &outcome->usage, outcome->cost_nanos,
         outcome->receipt_id,
         trace_ ? response_text(outcome.value(), route_ ? route_json(*route_) : std::string())
                : std::string());
}

void StepReport::finished(const Result<providers::EmbedResponse>& outcome) {
  if (!outcome) return finish(&outcome.error(), {}, {}, nullptr, 0, {}, {});
  finish(nullptr, outcome->provider, outcome->model, &outcome->usage, outcome->cost_nanos,
         outcome->receipt_id,
         trace_ ? response_document(outcome.value()).dump() : std::string());
}

void StepReport::finish(const Error* error, const std::string& provider, const std::string& model,
                        const providers::Usage* usage, std::int64_t cost,
                        const std::string& receipt, std::string response) {
  event_.phase = StepPhase::finished;
  if (error != nullptr) event_.error = *error;
  if (!provider.empty()) event_.provider = provider;
  if (!model.empty()) event_.model = model;
  if (usage != nullptr) {
    event_.input_tokens = usage->input_tokens;
    event_.output_tokens = usage->output_tokens;
  }
  event_.cost_nanos = cost;
  event_.receipt_id = receipt;
  event_.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_at_);
  if (trace_ != nullptr) {
    // Without a listener the event is never delivered: its strings move into the record.
    const bool listened = static_cast<bool>(sink_);
    const auto pass = [listened](std::string& text) -> std::string {
      if (listened) return text;
      return std::move(text);
    };
    memory::StepRecord step;
    step.run_id = pass(event_.run_id);
    step.seq = event_.step;
    step.kind = event_.kind == StepKind::chat    ? "model"
                : event_.kind == StepKind::embed ? "embed"
                                                 : "tool";
    // Written once, as text (the route is already inside a chat step's response).
    step.request_text = std::move(request_);
    step.response_text = std::move(response);
    step.provider = pass(event_.provider);
    step.model = pass(event_.model);
    step.latency_ms = event_.latency.count();
    step.input_tokens = event_.input_tokens;
    step.output_tokens = event_.output_tokens;
    step.cost_nanos = cost;
    step.receipt_id = pass(event_.receipt_id);
    if (error != nullptr) step.error = error->describe();
    // A trace write that fails is reported when the run ends (MemoryStore::flush); the
    // call itself, already paid, stands.
    (void)trace_->record_step(std::move(step));
  }
  if (sink_) deliver();
}

void StepReport::deliver() const {
  try {
    sink_(event_);
  } catch (...) {
    // A listener's failure is its own; the run goes on (see events.hpp).
  }
}

}  // namespace perdiem::sdk
