// Step events for C callbacks: a perdiem_step_event is a view of the C++ StepEvent that
// lives on the reporting thread's stack for the duration of one callback.
#include <string>

#include "sdk/src/c_api_internal.hpp"

struct perdiem_step_event {
  const perdiem::StepEvent* event;
  std::string error_message;  // describe(), built once per event that failed
};

namespace perdiem::capi {

std::function<void(const StepEvent&)> step_sink(perdiem_step_callback callback, void* user_data) {
  // The runtime catches what this throws (only bad_alloc can), so nothing reaches C.
  return [callback, user_data](const StepEvent& event) {
    perdiem_step_event view{&event, event.error ? event.error->describe() : std::string()};
    callback(&view, user_data);
  };
}

}  // namespace perdiem::capi

namespace {

const perdiem::StepEvent* of(const perdiem_step_event* event) {
  return event == nullptr ? nullptr : event->event;
}

const char* text(const perdiem_step_event* event, std::string perdiem::StepEvent::*field) {
  const perdiem::StepEvent* e = of(event);
  return e == nullptr ? "" : (e->*field).c_str();
}

int64_t number(const perdiem_step_event* event, std::int64_t perdiem::StepEvent::*field) {
  const perdiem::StepEvent* e = of(event);
  return e == nullptr ? 0 : e->*field;
}

}  // namespace

extern "C" {

const char* perdiem_step_event_run_id(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::run_id);
}
int64_t perdiem_step_event_step(const perdiem_step_event* event) {
  return number(event, &perdiem::StepEvent::step);
}
const char* perdiem_step_event_kind(const perdiem_step_event* event) {
  const perdiem::StepEvent* e = of(event);
  if (e == nullptr) return "";
  switch (e->kind) {
    case perdiem::StepKind::chat:
      return "chat";
    case perdiem::StepKind::embed:
      return "embed";
    case perdiem::StepKind::tool:
      return "tool";
  }
  return "unknown";
}
const char* perdiem_step_event_phase(const perdiem_step_event* event) {
  const perdiem::StepEvent* e = of(event);
  if (e == nullptr) return "";
  switch (e->phase) {
    case perdiem::StepPhase::started:
      return "started";
    case perdiem::StepPhase::finished:
      return "finished";
    case perdiem::StepPhase::delta:
      return "delta";
  }
  return "unknown";
}
const char* perdiem_step_event_provider(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::provider);
}
const char* perdiem_step_event_model(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::model);
}
const char* perdiem_step_event_request_json(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::request_json);
}
const char* perdiem_step_event_response_text(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::response_text);
}
perdiem_code perdiem_step_event_error_code(const perdiem_step_event* event) {
  const perdiem::StepEvent* e = of(event);
  if (e == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  return e->error ? perdiem::capi::code_of(e->error->kind) : PERDIEM_CODE_OK;
}
const char* perdiem_step_event_error_message(const perdiem_step_event* event) {
  return event == nullptr ? "" : event->error_message.c_str();
}
int64_t perdiem_step_event_input_tokens(const perdiem_step_event* event) {
  return number(event, &perdiem::StepEvent::input_tokens);
}
int64_t perdiem_step_event_output_tokens(const perdiem_step_event* event) {
  return number(event, &perdiem::StepEvent::output_tokens);
}
int64_t perdiem_step_event_cost_nanos(const perdiem_step_event* event) {
  return number(event, &perdiem::StepEvent::cost_nanos);
}
const char* perdiem_step_event_receipt_id(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::receipt_id);
}
int64_t perdiem_step_event_latency_ms(const perdiem_step_event* event) {
  const perdiem::StepEvent* e = of(event);
  return e == nullptr ? 0 : static_cast<int64_t>(e->latency.count());
}
const char* perdiem_step_event_delta_text(const perdiem_step_event* event) {
  return text(event, &perdiem::StepEvent::delta_text);
}

}  // extern "C"
