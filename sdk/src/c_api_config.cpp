// perdiem_config and perdiem_run_config: the opaque builders through which the C API
// grows without touching a by-value struct (the ABI rule in perdiem.h).
#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include "sdk/src/c_api_internal.hpp"

namespace {

using perdiem::capi::or_empty;

// Runs `set` on the builder, mapping a NULL builder and allocation failure to codes.
template <typename Builder, typename Set>
perdiem_code update(Builder* builder, Set&& set) noexcept {
  if (builder == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    return set(builder->options);
  } catch (...) {
    return PERDIEM_CODE_INTERNAL;
  }
}

template <typename Builder>
Builder* make_builder() noexcept {
  try {
    return new Builder();
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

extern "C" {

perdiem_config* perdiem_config_new(void) {
  return make_builder<perdiem_config>();
}
void perdiem_config_free(perdiem_config* config) {
  delete config;
}

perdiem_code perdiem_config_set_provider(perdiem_config* config, const char* provider) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.provider.provider = or_empty(provider);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_base_url(perdiem_config* config, const char* base_url) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.provider.base_url = or_empty(base_url);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_model(perdiem_config* config, const char* model) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.provider.model = or_empty(model);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_use_environment(perdiem_config* config, int use_environment) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.provider.use_environment = use_environment != 0;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_sim_seed(perdiem_config* config, uint64_t seed) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.provider.sim_seed = seed;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_default_max_tokens(perdiem_config* config, int max_tokens) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    if (max_tokens < 1) return PERDIEM_CODE_INVALID_ARGUMENT;
    o.default_max_tokens = max_tokens;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_memory_path(perdiem_config* config, const char* path) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.memory_path = or_empty(path);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_step_callback(perdiem_config* config,
                                              perdiem_step_callback callback, void* user_data) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.on_step = callback == nullptr ? nullptr : perdiem::capi::step_sink(callback, user_data);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_run_callback(perdiem_config* config, perdiem_run_callback callback,
                                             void* user_data) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.on_run = callback == nullptr ? nullptr : perdiem::capi::run_sink(callback, user_data);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_stream_chat(perdiem_config* config, int stream_chat) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.stream_chat = stream_chat != 0;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_scheduler_threads(perdiem_config* config, unsigned threads) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    o.scheduler_threads = threads;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_config_set_host_provider(perdiem_config* config, const char* name,
                                              perdiem_host_chat_fn chat, void* user_data) {
  return update(config, [&](perdiem::RuntimeOptions& o) {
    if (chat == nullptr) {
      o.host_provider.reset();
      o.host_provider_name = "host";
      return PERDIEM_CODE_OK;
    }
    if (name != nullptr && name[0] == '\0') return PERDIEM_CODE_INVALID_ARGUMENT;
    o.host_provider = perdiem::capi::host_provider(chat, user_data);
    o.host_provider_name = name == nullptr ? "host" : name;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_runtime_create_with(const perdiem_config* config, perdiem_runtime** out,
                                         char** error_message) {
  if (out == nullptr) {
    perdiem::capi::set_message(error_message, "perdiem_runtime_create_with: out must not be NULL");
    return PERDIEM_CODE_INVALID_ARGUMENT;
  }
  *out = nullptr;
  try {
    perdiem::RuntimeOptions settings =
        config != nullptr ? config->options : perdiem::RuntimeOptions{};
    return perdiem::capi::create_runtime(std::move(settings), out, error_message);
  } catch (...) {
    perdiem::capi::set_message(error_message, "perdiem_runtime_create_with: out of memory");
    return PERDIEM_CODE_INTERNAL;
  }
}

perdiem_run_config* perdiem_run_config_new(void) {
  return make_builder<perdiem_run_config>();
}
void perdiem_run_config_free(perdiem_run_config* config) {
  delete config;
}

perdiem_code perdiem_run_config_add_arg(perdiem_run_config* config, const char* arg) {
  return update(config, [&](perdiem::RunOptions& o) {
    if (arg == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
    o.args.emplace_back(arg);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_run_config_set_memory_limit_bytes(perdiem_run_config* config, size_t bytes) {
  return update(config, [&](perdiem::RunOptions& o) {
    o.memory_limit_bytes = bytes != 0 ? bytes : perdiem::RunOptions{}.memory_limit_bytes;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_run_config_set_instruction_limit(perdiem_run_config* config,
                                                      uint64_t instructions) {
  return update(config, [&](perdiem::RunOptions& o) {
    o.instruction_limit = instructions;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_run_config_set_timeout_ms(perdiem_run_config* config, int64_t timeout_ms) {
  return update(config, [&](perdiem::RunOptions& o) {
    if (timeout_ms < 0) return PERDIEM_CODE_INVALID_ARGUMENT;
    o.timeout = std::chrono::milliseconds(std::min(timeout_ms, perdiem::capi::kLongestWaitMs));
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_run_config_set_max_steps(perdiem_run_config* config, uint64_t max_steps) {
  return update(config, [&](perdiem::RunOptions& o) {
    o.max_steps = max_steps;
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_run_config_set_budget_nanos(perdiem_run_config* config, int64_t budget_nanos) {
  return update(config, [&](perdiem::RunOptions& o) {
    o.budget = budget_nanos < 0 ? std::nullopt : std::optional<perdiem::Nanos>(budget_nanos);
    return PERDIEM_CODE_OK;
  });
}

perdiem_code perdiem_run_config_set_max_call_nanos(perdiem_run_config* config,
                                                   int64_t max_call_nanos) {
  return update(config, [&](perdiem::RunOptions& o) {
    o.max_call_cost =
        max_call_nanos < 0 ? std::nullopt : std::optional<perdiem::Nanos>(max_call_nanos);
    return PERDIEM_CODE_OK;
  });
}

}  // extern "C"
