// What the c_api_*.cpp files share: the opaque structs behind perdiem.h's handles and
// the conversions between perdiem_code and perdiem::Error. Not part of the public API.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "perdiem/perdiem.h"
#include "perdiem/perdiem.hpp"

struct perdiem_runtime {
  std::unique_ptr<perdiem::Runtime> runtime;
};

struct perdiem_result {
  perdiem_code code = PERDIEM_CODE_OK;
  std::string text;
  std::string json;
  std::string error_message;
  std::string providers;
  int model_calls = 0;
  int64_t cost_nanos = 0;
  std::string run_id;
};

struct perdiem_config {
  perdiem::RuntimeOptions options;
};

struct perdiem_run_config {
  perdiem::RunOptions options;
};

namespace perdiem::capi {

// ErrorKind and perdiem_code share an order; OK is 0, so each kind is its index + 1.
inline perdiem_code code_of(ErrorKind kind) {
  return static_cast<perdiem_code>(static_cast<int>(kind) + 1);
}
inline bool is_error_code(perdiem_code code) {
  return code >= PERDIEM_CODE_INVALID_ARGUMENT && code <= PERDIEM_CODE_INTERNAL;
}
// `code` must satisfy is_error_code.
inline ErrorKind kind_of(perdiem_code code) {
  return static_cast<ErrorKind>(code - 1);
}

// Waits and timeouts longer than this (ten years) are clamped to it, so that adding one to
// a clock reading cannot overflow.
inline constexpr int64_t kLongestWaitMs = 10LL * 366 * 24 * 60 * 60 * 1000;

// A malloc'd copy the caller frees with perdiem_string_free; NULL when out of memory.
char* duplicate(const std::string& text);
void set_message(char** out, const std::string& message);
inline std::string or_empty(const char* text) {
  return text == nullptr ? std::string() : text;
}

// Creates the runtime: *out and PERDIEM_CODE_OK, or *out NULL, a code and a message.
perdiem_code create_runtime(RuntimeOptions settings, perdiem_runtime** out,
                            char** error_message) noexcept;

// Stores a new perdiem_result for `run` in *out and returns its code. Throws bad_alloc.
perdiem_code store_result(const RunResult& run, perdiem_result** out);

// The adapters c_api_events.cpp, c_api_run_events.cpp and c_api_host.cpp provide for
// perdiem_config.
std::function<void(const StepEvent&)> step_sink(perdiem_step_callback callback, void* user_data);
std::function<void(const RunEvent&)> run_sink(perdiem_run_callback callback, void* user_data);
std::shared_ptr<HostProvider> host_provider(perdiem_host_chat_fn chat, void* user_data);

}  // namespace perdiem::capi
