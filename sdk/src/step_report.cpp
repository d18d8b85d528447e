#include "sdk/src/step_report.hpp"

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/openai_codec.hpp"

namespace perdiem::sdk {

StepReport::StepReport(const StepSink& sink, const std::string& run_id, std::int64_t step,
                       const std::string& provider, const providers::ChatRequest& request)
    : sink_(sink) {
  if (sink_) {
    start(run_id, step, StepKind::chat, provider, request.model,
          providers::encode_chat_request(request));
  }
}

StepReport::StepReport(const StepSink& sink, const std::string& run_id, std::int64_t step,
                       const std::string& provider, const providers::EmbedRequest& request)
    : sink_(sink) {
  if (sink_) {
    start(run_id, step, StepKind::embed, provider, request.model,
          providers::encode_embed_request(request));
  }
}

void StepReport::start(const std::string& run_id, std::int64_t step, StepKind kind,
                       const std::string& provider, const std::string& model,
                       std::string request_json) {
  event_.run_id = run_id;
  event_.step = step;
  event_.kind = kind;
  event_.phase = StepPhase::started;
  event_.provider = provider;
  event_.model = model;
  event_.request_json = std::move(request_json);
  started_at_ = std::chrono::steady_clock::now();
  deliver();
}

void StepReport::finished(const Result<providers::ChatResponse>& outcome) {
  if (!sink_) return;
  if (!outcome) return finish(&outcome.error(), event_.provider, nullptr, 0, {});
  event_.response_text = outcome->content;
  if (!outcome->model.empty()) event_.model = outcome->model;
  finish(nullptr, outcome->provider, &outcome->usage, outcome->cost_nanos, outcome->receipt_id);
}

void StepReport::finished(const Result<providers::EmbedResponse>& outcome) {
  if (!sink_) return;
  if (!outcome) return finish(&outcome.error(), event_.provider, nullptr, 0, {});
  if (!outcome->model.empty()) event_.model = outcome->model;
  finish(nullptr, outcome->provider, &outcome->usage, outcome->cost_nanos, outcome->receipt_id);
}

void StepReport::finish(const Error* error, const std::string& provider,
                        const providers::Usage* usage, std::int64_t cost,
                        const std::string& receipt) {
  event_.phase = StepPhase::finished;
  if (error != nullptr) event_.error = *error;
  if (!provider.empty()) event_.provider = provider;
  if (usage != nullptr) {
    event_.input_tokens = usage->input_tokens;
    event_.output_tokens = usage->output_tokens;
  }
  event_.cost_nanos = cost;
  event_.receipt_id = receipt;
  event_.latency = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started_at_);
  deliver();
}

void StepReport::deliver() const {
  try {
    sink_(event_);
  } catch (...) {
    // A listener's failure is its own; the run goes on (see events.hpp).
  }
}

}  // namespace perdiem::sdk
