// Run events for C callbacks: a perdiem_run_event is a view of the C++ RunEvent that
// lives on the reporting thread's stack for the duration of one callback.
#include <string>

#include "sdk/src/c_api_internal.hpp"

struct perdiem_run_event {
  const perdiem::RunEvent* event;
  std::string error_message;  // describe(), built once per run that failed
};

namespace perdiem::capi {

std::function<void(const RunEvent&)> run_sink(perdiem_run_callback callback, void* user_data) {
  // The runtime catches what this throws (only bad_alloc can), so nothing reaches C.
  return [callback, user_data](const RunEvent& event) {
    perdiem_run_event view{&event, event.error ? event.error->describe() : std::string()};
    callback(&view, user_data);
  };
}

}  // namespace perdiem::capi

namespace {

const perdiem::RunEvent* of(const perdiem_run_event* event) {
  return event == nullptr ? nullptr : event->event;
}

}  // namespace

extern "C" {

const char* perdiem_run_event_run_id(const perdiem_run_event* event) {
  const perdiem::RunEvent* e = of(event);
  return e == nullptr ? "" : e->run_id.c_str();
}
const char* perdiem_run_event_phase(const perdiem_run_event* event) {
  const perdiem::RunEvent* e = of(event);
  if (e == nullptr) return "";
  switch (e->phase) {
    case perdiem::RunPhase::started:
      return "started";
    case perdiem::RunPhase::finished:
      return "finished";
  }
  return "unknown";
}
int perdiem_run_event_depth(const perdiem_run_event* event) {
  const perdiem::RunEvent* e = of(event);
  return e == nullptr ? 0 : e->depth;
}
const char* perdiem_run_event_parent_run_id(const perdiem_run_event* event) {
  const perdiem::RunEvent* e = of(event);
  return e == nullptr ? "" : e->parent_run_id.c_str();
}
perdiem_code perdiem_run_event_error_code(const perdiem_run_event* event) {
  const perdiem::RunEvent* e = of(event);
  if (e == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  return e->error ? perdiem::capi::code_of(e->error->kind) : PERDIEM_CODE_OK;
}
const char* perdiem_run_event_error_message(const perdiem_run_event* event) {
  return event == nullptr ? "" : event->error_message.c_str();
}
int64_t perdiem_run_event_cost_nanos(const perdiem_run_event* event) {
  const perdiem::RunEvent* e = of(event);
  return e == nullptr ? 0 : e->cost_nanos;
}

}  // extern "C"
