#include "runtime/providers/provider_config.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>

#include "runtime/http/curl_transport.hpp"
#include "runtime/providers/anthropic_provider.hpp"
#include "runtime/providers/openai_provider.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/sim_provider.hpp"

namespace perdiem::providers {

namespace {

constexpr const char* kSimModel = "sim-1";

// A setting and where it came from.
struct Sourced {
  std::string value;
  std::string reason;
};

void wipe(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

class Environment {
 public:
  Environment(const ProviderSettings& settings, const GetEnv& env)
      : env_(settings.use_environment ? &env : nullptr) {}

  bool enabled() const { return env_ != nullptr && *env_; }

  std::optional<std::string> get(const std::string& name) const {
    if (!enabled()) return std::nullopt;
    std::optional<std::string> value = (*env_)(name);
    if (value && value->empty()) return std::nullopt;
    return value;
  }

  // A secret variable straight into locked memory; the plain copy is wiped.
  base::SecureBuffer secret(const std::string& name) const {
    std::optional<std::string> value = get(name);
    if (!value) return {};
    auto buffer = base::SecureBuffer::from_string(*value);
    wipe(*value);
    return buffer;
  }

  bool has(const std::string& name) const { return !secret(name).empty(); }

 private:
  const GetEnv* env_;
};

Sourced first_of(const std::string& flag, const std::optional<std::string>& environment) {
  if (!flag.empty()) return {flag, "flag"};
  if (environment) return {*environment, "environment"};
  return {};
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string known_names() {
  std::string names = "sim, custom";
  for (const Preset& preset : all_presets()) {
    names += ", ";
    names += preset.name;
  }
  return names;
}

Error config_error(std::string message) {
  return make_error(ErrorKind::config, std::move(message), "provider settings");
}

constexpr std::int64_t kMaxSimDelayMs = 600'000;

// A sim delay: the setting when not 0, else the variable `env_name`, else 0.
Result<std::chrono::milliseconds> sim_delay_setting(std::int64_t setting, const char* setting_name,
                                                    const std::string& env_name,
                                                    const Environment& environment) {
  std::int64_t ms = setting;
  std::string from = setting_name;
  if (ms == 0) {
    if (std::optional<std::string> text = environment.get(env_name)) {
      from = env_name;
      std::size_t used = 0;
      try {
        ms = std::stoll(*text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != text->size()) {
        return config_error(env_name + " must be a whole number of milliseconds, such as 50");
      }
    }
  }
  if (ms < 0 || ms > kMaxSimDelayMs) {
    return config_error(from + " must be 0 to " + std::to_string(kMaxSimDelayMs) +
                        " milliseconds, not " + std::to_string(ms));
  }
  return std::chrono::milliseconds(ms);
}

}  // namespace

GetEnv process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<ProviderChoice> resolve_provider(const ProviderSettings& settings, const GetEnv& env) {
  const Environment environment(settings, env);
  Sourced name = first_of(settings.provider, environment.get("PERDIEM_PROVIDER"));
  Sourced base_url = first_of(settings.base_url, environment.get("PERDIEM_BASE_URL"));
  if (name.value.empty()) {
    if (!base_url.value.empty()) {
      name = {"custom", base_url.reason};
    } else if (environment.has("OPENROUTER_API_KEY")) {
      name = {"openrouter", "environment"};
    } else {
      name = {"sim", "default"};
    }
  }

  ProviderChoice choice;
  choice.name = lowercase(name.value);
  choice.reason = name.reason;
  choice.sim_seed = settings.sim_seed;
  Sourced model = first_of(settings.model, environment.get("PERDIEM_MODEL"));

  if (choice.name == "sim") {
    choice.model = model.value.empty() ? kSimModel : model.value;
    auto latency = sim_delay_setting(settings.sim_latency_ms, "sim_latency_ms",
                                     "PERDIEM_SIM_LATENCY_MS", environment);
    if (!latency) return latency.error();
    auto jitter = sim_delay_setting(settings.sim_jitter_ms, "sim_jitter_ms",
                                    "PERDIEM_SIM_JITTER_MS", environment);
    if (!jitter) return jitter.error();
    choice.sim.latency = latency.value();
    choice.sim.jitter = jitter.value();
    return choice;
  }

  const Preset* preset = find_preset(choice.name);
  if (preset == nullptr && choice.name != "custom") {
    return config_error("unknown provider \"" + name.value +
                        "\"; known providers: " + known_names());
  }
  if (!base_url.value.empty()) {
    choice.base_url = base_url.value;
  } else if (preset != nullptr) {
    choice.base_url = preset->base_url;
  } else {
    return config_error(
        "provider \"custom\" needs a base URL: pass one (--base-url) or set "
        "PERDIEM_BASE_URL");
  }
  if (!choice.base_url.starts_with("http://") && !choice.base_url.starts_with("https://")) {
    return config_error("the base URL must start with http:// or https://");
  }
  while (choice.base_url.ends_with('/')) choice.base_url.pop_back();

  if (!model.value.empty()) {
    choice.model = model.value;
  } else {
    choice.model = preset != nullptr ? std::string(preset->default_model) : kSimModel;
  }

  const std::string own_key_env = preset != nullptr ? std::string(preset->key_env) : "";
  if (!own_key_env.empty()) choice.api_key = environment.secret(own_key_env);
  if (!choice.api_key.empty()) {
    choice.key_env = own_key_env;
  } else {
    choice.api_key = environment.secret(kGenericKeyEnv);
    choice.key_env = choice.api_key.empty() && !own_key_env.empty() ? own_key_env : kGenericKeyEnv;
  }
  if (choice.api_key.empty() && preset != nullptr && !preset->local) {
    std::string message = "provider \"" + choice.name + "\" needs an API key: set " + own_key_env +
                          " (or " + kGenericKeyEnv + ")";
    if (!environment.enabled()) {
      message += "; the environment is not being read (use_environment is off)";
    }
    return config_error(std::move(message));
  }
  return choice;
}

std::unique_ptr<Provider> make_provider(ProviderChoice choice,
                                        std::shared_ptr<http::Transport> transport) {
  if (choice.name == "sim") return make_sim_provider(choice.sim_seed, choice.sim);
  if (!transport) transport = http::make_curl_transport();
  const Preset* preset = find_preset(choice.name);
  const ApiStyle api = choice.api.value_or(preset != nullptr ? preset->api : ApiStyle::openai);
  if (api == ApiStyle::anthropic) {
    AnthropicProviderConfig config;
    config.name = std::move(choice.name);
    config.base_url = std::move(choice.base_url);
    config.api_key = std::move(choice.api_key);
    config.key_env = std::move(choice.key_env);
    config.default_model = std::move(choice.model);
    return make_anthropic_provider(std::move(config), std::move(transport));
  }
  OpenAiProviderConfig config;
  config.name = std::move(choice.name);
  config.base_url = std::move(choice.base_url);
  config.api_key = std::move(choice.api_key);
  config.key_env = std::move(choice.key_env);
  config.default_model = std::move(choice.model);
  return make_openai_provider(std::move(config), std::move(transport));
}

}  // namespace perdiem::providers
