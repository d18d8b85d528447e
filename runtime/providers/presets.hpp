// Built-in providers: where each lives, which wire format it speaks, which variable
// holds its key, and a sensible default model. A preset is data only; provider_config
// turns one into a Provider.
#pragma once

#include <span>
#include <string_view>

namespace perdiem::providers {

// The wire format a provider speaks.
enum class ApiStyle {
  openai,     // POST {base_url}/chat/completions, "Authorization: Bearer <key>"
  anthropic,  // POST {base_url}/messages, "x-api-key: <key>", anthropic-version
};

struct Preset {
  std::string_view name;           // what --provider and PERDIEM_PROVIDER accept
  std::string_view base_url;       // ".../v1"; chat completions live under it
  std::string_view key_env;        // "" for local servers that need no key
  std::string_view default_model;  // for calls that name no model
  bool local = false;              // runs on this machine; no key required
  ApiStyle api{};                  // openai unless said otherwise
};

// Holds the key for a custom server, and for a preset whose own variable is unset.
inline constexpr const char* kGenericKeyEnv = "PERDIEM_API_KEY";

// The preset called `name` (exact, lowercase), or nullptr.
const Preset* find_preset(std::string_view name);

// Every preset, hosted ones first, in a stable order (used to list known names).
std::span<const Preset> all_presets();

}  // namespace perdiem::providers
