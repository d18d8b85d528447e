// The C API (perdiem.h) over the C++ facade. No exception crosses this boundary: every
// entry point catches, and allocation failure maps to PERDIEM_CODE_INTERNAL.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "sdk/src/c_api_internal.hpp"

namespace perdiem::capi {

static_assert(static_cast<int>(ErrorKind::internal) + 1 == PERDIEM_CODE_INTERNAL,
              "perdiem_code must mirror perdiem::ErrorKind");
static_assert(static_cast<int>(ErrorKind::rate_limited) + 1 == PERDIEM_CODE_RATE_LIMITED);

char* duplicate(const std::string& text) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (copy != nullptr) std::memcpy(copy, text.c_str(), text.size() + 1);
  return copy;
}

void set_message(char** out, const std::string& message) {
  if (out != nullptr) *out = duplicate(message);
}

perdiem_code store_result(const RunResult& run, perdiem_result** out) {
  auto result = std::make_unique<perdiem_result>();
  if (run.error) {
    result->code = code_of(run.error->kind);
    result->error_message = run.error->describe();
  } else {
    result->text = run.text;
    result->json = run.json;
  }
  for (const std::string& name : run.providers) {
    if (!result->providers.empty()) result->providers += ",";
    result->providers += name;
  }
  result->model_calls = run.usage.model_calls;
  result->cost_nanos = run.usage.cost;
  result->run_id = run.run_id;
  perdiem_code code = result->code;
  *out = result.release();
  return code;
}

perdiem_code create_runtime(RuntimeOptions settings, perdiem_runtime** out,
                            char** error_message) noexcept {
  *out = nullptr;
  try {
    auto runtime = Runtime::create(std::move(settings));
    if (!runtime) {
      set_message(error_message, runtime.error().describe());
      return code_of(runtime.error().kind);
    }
    *out = new perdiem_runtime{std::move(*runtime)};
    return PERDIEM_CODE_OK;
  } catch (const std::exception& e) {
    set_message(error_message, std::string("cannot create the runtime: ") + e.what());
    return PERDIEM_CODE_INTERNAL;
  } catch (...) {
    set_message(error_message, "cannot create the runtime: unknown exception");
    return PERDIEM_CODE_INTERNAL;
  }
}

}  // namespace perdiem::capi

namespace {

using perdiem::capi::code_of;
using perdiem::capi::or_empty;
using perdiem::capi::set_message;
using perdiem::capi::store_result;

perdiem::RunOptions run_options_from(const perdiem_run_options* options) {
  perdiem::RunOptions run;
  if (options == nullptr) return run;
  for (std::size_t i = 0; i < options->arg_count; ++i) {
    run.args.push_back(or_empty(options->args[i]));
  }
  if (options->memory_limit_bytes != 0) run.memory_limit_bytes = options->memory_limit_bytes;
  if (options->budget_nanos >= 0) run.budget = options->budget_nanos;
  if (options->max_call_nanos >= 0) run.max_call_cost = options->max_call_nanos;
  return run;
}

}  // namespace

extern "C" {

const char* perdiem_version(void) {
  return PERDIEM_VERSION;
}

const char* perdiem_code_name(perdiem_code code) {
  if (code == PERDIEM_CODE_OK) return "ok";
  if (code < PERDIEM_CODE_INVALID_ARGUMENT || code > PERDIEM_CODE_INTERNAL) return "unknown";
  // to_string returns views of string literals, so data() is NUL-terminated.
  return perdiem::to_string(static_cast<perdiem::ErrorKind>(code - 1)).data();
}

void perdiem_string_free(char* s) {
  std::free(s);
}

perdiem_runtime_options perdiem_runtime_options_default(void) {
  perdiem_runtime_options options{};
  options.use_environment = 1;
  options.sim_seed = 1;
  return options;
}

perdiem_run_options perdiem_run_options_default(void) {
  perdiem_run_options options{};
  options.memory_limit_bytes = 64u << 20;
  options.budget_nanos = -1;
  options.max_call_nanos = -1;
  return options;
}

perdiem_code perdiem_runtime_create(const perdiem_runtime_options* options, perdiem_runtime** out,
                                    char** error_message) {
  if (out == nullptr) {
    set_message(error_message, "perdiem_runtime_create: out must not be NULL");
    return PERDIEM_CODE_INVALID_ARGUMENT;
  }
  *out = nullptr;
  try {
    perdiem_runtime_options given =
        options != nullptr ? *options : perdiem_runtime_options_default();
    perdiem::RuntimeOptions settings;
    settings.provider.provider = or_empty(given.provider);
    settings.provider.base_url = or_empty(given.base_url);
    settings.provider.model = or_empty(given.model);
    settings.provider.use_environment = given.use_environment != 0;
    settings.provider.sim_seed = given.sim_seed;
    return perdiem::capi::create_runtime(std::move(settings), out, error_message);
  } catch (...) {
    set_message(error_message, "perdiem_runtime_create: out of memory");
    return PERDIEM_CODE_INTERNAL;
  }
}

void perdiem_runtime_free(perdiem_runtime* runtime) {
  delete runtime;
}

perdiem_code perdiem_run_file(perdiem_runtime* runtime, const char* path,
                              const perdiem_run_options* options, perdiem_result** out) {
  if (out == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  *out = nullptr;
  if (runtime == nullptr || path == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    return store_result(runtime->runtime->run_file(path, run_options_from(options)), out);
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

perdiem_code perdiem_run_string(perdiem_runtime* runtime, const char* source,
                                const char* chunk_name, const perdiem_run_options* options,
                                perdiem_result** out) {
  if (out == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  *out = nullptr;
  if (runtime == nullptr || source == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    const char* name = chunk_name != nullptr ? chunk_name : "plan";
    return store_result(runtime->runtime->run_script(source, name, run_options_from(options)), out);
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

perdiem_code perdiem_result_code(const perdiem_result* result) {
  return result == nullptr ? PERDIEM_CODE_INVALID_ARGUMENT : result->code;
}
const char* perdiem_result_text(const perdiem_result* result) {
  return result == nullptr ? "" : result->text.c_str();
}
const char* perdiem_result_json(const perdiem_result* result) {
  return result == nullptr ? "" : result->json.c_str();
}
const char* perdiem_result_error_message(const perdiem_result* result) {
  return result == nullptr ? "" : result->error_message.c_str();
}
const char* perdiem_result_providers(const perdiem_result* result) {
  return result == nullptr ? "" : result->providers.c_str();
}
int perdiem_result_model_calls(const perdiem_result* result) {
  return result == nullptr ? 0 : result->model_calls;
}
int64_t perdiem_result_cost_nanos(const perdiem_result* result) {
  return result == nullptr ? 0 : result->cost_nanos;
}
const char* perdiem_result_run_id(const perdiem_result* result) {
  return result == nullptr ? "" : result->run_id.c_str();
}
void perdiem_result_free(perdiem_result* result) {
  delete result;
}

}  // extern "C"
