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
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

// Reads an environment variable; std::nullopt when unset. Injected so tests need not
// touch the process environment.
using GetEnv = std::function<std::optional<std::string>(const std::string& name)>;
GetEnv process_environment();

struct ProviderChoice {
  std::string name;      // "sim", a preset name, or "custom" for a bare base URL
  std::string reason;    // "flag", "environment" or "default"
  std::string base_url;  // "" for sim
  std::string model;     // the default model for calls that name none
  std::uint64_t sim_seed = 1;
  base::SecureBuffer api_key;  // empty for sim and keyless local servers
};

// Fails with kind `config` for an unknown provider name or a hosted provider whose key
// variable is unset (the message names the variable, never a key).
Result<ProviderChoice> resolve_provider(const ProviderSettings& settings, const GetEnv& env);

// Builds the provider `choice` describes; takes ownership of its key.
std::unique_ptr<Provider> make_provider(ProviderChoice choice,
                                        std::shared_ptr<http::Transport> transport);

}  // namespace perdiem::providers
