// Background runs for C: perdiem_run holds the C++ RunHandle, which is thread-safe, so
// every call but perdiem_run_free may race with any other on the same handle.
#include <algorithm>
#include <chrono>
#include <string>

#include "sdk/src/c_api_internal.hpp"

struct perdiem_run {
  std::shared_ptr<perdiem::RunHandle> handle;
};

namespace {

const perdiem::RunOptions& options_of(const perdiem_run_config* config) {
  static const perdiem::RunOptions defaults;
  return config != nullptr ? config->options : defaults;
}

template <typename Start>
perdiem_code start(perdiem_run** out, Start&& start_run) noexcept {
  try {
    auto run = std::make_unique<perdiem_run>();
    run->handle = start_run();
    if (!run->handle) return PERDIEM_CODE_INTERNAL;
    *out = run.release();
    return PERDIEM_CODE_OK;
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

}  // namespace

extern "C" {

perdiem_code perdiem_run_start_file(perdiem_runtime* runtime, const char* path,
                                    const perdiem_run_config* config, perdiem_run** out) {
  if (out == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  *out = nullptr;
  if (runtime == nullptr || path == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  return start(out, [&] { return runtime->runtime->start_file(path, options_of(config)); });
}

perdiem_code perdiem_run_start_string(perdiem_runtime* runtime, const char* source,
                                      const char* chunk_name, const perdiem_run_config* config,
                                      perdiem_run** out) {
  if (out == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  *out = nullptr;
  if (runtime == nullptr || source == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  return start(out, [&] {
    return runtime->runtime->start_script(source, chunk_name != nullptr ? chunk_name : "plan",
                                          options_of(config));
  });
}

const char* perdiem_run_id(const perdiem_run* run) {
  return run == nullptr ? "" : run->handle->run_id().c_str();
}

int perdiem_run_done(const perdiem_run* run) {
  return run != nullptr && run->handle->done() ? 1 : 0;
}

perdiem_code perdiem_run_wait(perdiem_run* run, perdiem_result** out) {
  if (out == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  *out = nullptr;
  if (run == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    return perdiem::capi::store_result(run->handle->wait(), out);
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

perdiem_code perdiem_run_wait_for(perdiem_run* run, int64_t timeout_ms, perdiem_result** out,
                                  int* finished) {
  if (out != nullptr) *out = nullptr;
  if (finished != nullptr) *finished = 0;
  if (run == nullptr || out == nullptr || finished == nullptr || timeout_ms < 0) {
    return PERDIEM_CODE_INVALID_ARGUMENT;
  }
  try {
    std::optional<perdiem::RunResult> result = run->handle->wait_for(
        std::chrono::milliseconds(std::min(timeout_ms, perdiem::capi::kLongestWaitMs)));
    if (!result) return PERDIEM_CODE_OK;
    perdiem_code code = perdiem::capi::store_result(*result, out);
    *finished = 1;
    return code;
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

void perdiem_run_cancel(perdiem_run* run) {
  if (run != nullptr) run->handle->cancel();
}

void perdiem_run_free(perdiem_run* run) {
  delete run;
}

}  // extern "C"
