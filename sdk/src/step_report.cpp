#include "sdk/src/step_report.hpp"

#include "sdk/src/trace_format.hpp"

namespace perdiem::sdk {

StepReport::StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
                       std::int64_t step, const std::string& provider,
                       const providers::ChatRequest& request)
    : sink_(sink), trace_(trace) {
  if (sink_ || trace_) request_ = request_document(request);
  start(StepKind::chat, run_id, step, provider, request.model);
}

StepReport::StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
                       std::int64_t step, const std::string& provider,
                       const providers::EmbedRequest& request)
    : sink_(sink), trace_(trace) {
  if (sink_ || trace_) request_ = request_document(request);
  start(StepKind::embed, run_id, step, provider, request.model);
}

StepReport::StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
                       std::int64_t step, const std::string& name, const nlohmann::json& arguments)
    : sink_(sink), trace_(trace) {
  if (sink_ || trace_) request_ = {{"name", name}, {"arguments", arguments}};
  start(StepKind::tool, run_id, step, "tool", name);
}

void StepReport::finished(const Result<std::string>& outcome, std::int64_t cost,
                          const std::string& receipt) {
  if (!outcome) return finish(&outcome.error(), {}, {}, nullptr, cost, receipt, nullptr);
  if (sink_) event_.response_text = outcome.value();
  finish(nullptr, {}, {}, nullptr, cost, receipt,
         trace_ ? nlohmann::json{{"result", outcome.value()}} : nlohmann::json());
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
  event_.request_json = request_.dump();
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
    if (route_.is_object() && route_.contains("charged_failures")) {
      for (const auto& failure : route_["charged_failures"]) {
        charged += failure.value("cost_nanos", std::int64_t{0});
        if (receipt.empty()) receipt = failure.value("receipt", std::string());
      }
    }
    return finish(&outcome.error(), {}, {}, nullptr, charged, receipt, nullptr);
  }
  if (sink_) event_.response_text = outcome->content;
  finish(nullptr, outcome->provider, outcome->model, &outcome->usage, outcome->cost_nanos,
         outcome->receipt_id, trace_ ? response_document(outcome.value()) : nlohmann::json());
}

void StepReport::finished(const Result<providers::EmbedResponse>& outcome) {
  if (!outcome) return finish(&outcome.error(), {}, {}, nullptr, 0, {}, nullptr);
  finish(nullptr, outcome->provider, outcome->model, &outcome->usage, outcome->cost_nanos,
         outcome->receipt_id, trace_ ? response_document(outcome.value()) : nlohmann::json());
}

void StepReport::finish(const Error* error, const std::string& provider, const std::string& model,
                        const providers::Usage* usage, std::int64_t cost,
                        const std::string& receipt, nlohmann::json response) {
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
    memory::StepRecord step;
    step.run_id = event_.run_id;
    step.seq = event_.step;
    step.kind = event_.kind == StepKind::chat    ? "model"
                : event_.kind == StepKind::embed ? "embed"
                                                 : "tool";
    step.request = request_;
    step.response = std::move(response);
    if (!route_.is_null()) {
      if (!step.response.is_object()) step.response = nlohmann::json::object();
      step.response["route"] = std::move(route_);
    }
    step.provider = event_.provider;
    step.model = event_.model;
    step.latency_ms = event_.latency.count();
    step.input_tokens = event_.input_tokens;
    step.output_tokens = event_.output_tokens;
    step.cost_nanos = cost;
    step.receipt_id = receipt;
    if (error != nullptr) step.error = error->describe();
    // A trace write that fails is reported when the run ends (MemoryStore::flush); the
    // call itself, already paid, stands.
    (void)trace_->record_step(step);
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
