// Which provider a runtime sends calls to: resolved from explicit settings, then the
// environment, then the offline default (sim).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"
#include "perdiem/perdiem.hpp"
#include "runtime/http/transport.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/provider.hpp"
#include "runtime/providers/sim_provider.hpp"

namespace perdiem::providers {

// Reads an environment variable; std::nullopt when unset. Injected so tests need not
// touch the process environment. A variable set to "" counts as unset.
using GetEnv = std::function<std::optional<std::string>(const std::string& name)>;
GetEnv process_environment();

struct ProviderChoice {
  std::string name;      // "sim", a preset name, or "custom" for a bare base URL
  std::string reason;    // "flag", "environment" or "default"
  std::string base_url;  // "" for sim; no trailing slash
  std::string model;     // the default model for calls that name none
  std::uint64_t sim_seed = 1;
  SimOptions sim{};            // the sim's latency and jitter
  base::SecureBuffer api_key;  // empty for sim and keyless local servers
  // The variable the key came from, or should come from ("OPENROUTER_API_KEY"); "" for
  // sim. Error messages name it; it is never the key.
  std::string key_env;
  // The wire format; empty: the preset's, else OpenAI's (a routing endpoint may say).
  std::optional<ApiStyle> api{};
};

// Each field takes the first of: the settings ("flag"), the environment when
// settings.use_environment ("environment"), the default ("default").
//  provider: settings.provider > PERDIEM_PROVIDER > "custom" when a base URL is set >
//            "openrouter" when only OPENROUTER_API_KEY is set > "sim".
//  base_url: settings.base_url > PERDIEM_BASE_URL > the preset's URL.
//  model:    settings.model > PERDIEM_MODEL > the preset's default model > "sim-1".
//  sim:      settings.sim_latency_ms / sim_jitter_ms when not 0 > PERDIEM_SIM_LATENCY_MS /
//            PERDIEM_SIM_JITTER_MS (whole milliseconds, 0 to 600000) > 0.
//  api_key:  the preset's own variable (OPENROUTER_API_KEY, ...) > PERDIEM_API_KEY. The
//            provider-specific variable wins so a generic key meant for one server is
//            not sent to another whose own key is set.
// `reason` is where the provider name came from. Provider names are case-insensitive.
// Fails with kind `config` for an unknown provider name (the message lists the known
// ones), a sim latency or jitter that is not 0 to 600000 ms, "custom" without a base URL, a base
// URL that is not http(s), or a hosted provider whose key variable is unset (the message names the
// variable, never a key). Keys move into locked memory at once and the environment's copies are
// wiped.
Result<ProviderChoice> resolve_provider(const ProviderSettings& settings, const GetEnv& env);

// Builds the provider `choice` describes; takes ownership of its key. A null
// `transport` gets a libcurl transport when the provider needs HTTP. The anthropic
// preset (ApiStyle::anthropic) gets the Anthropic adapter, with the base URL of the
// choice; every other name, "custom" included, the OpenAI-compatible one.
std::unique_ptr<Provider> make_provider(ProviderChoice choice,
                                        std::shared_ptr<http::Transport> transport);

}  // namespace perdiem::providers
