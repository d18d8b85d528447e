#include "runtime/providers/presets.hpp"

#include <array>

namespace perdiem::providers {

namespace {

// Default models are open-weight models each provider is known to serve, so a first run
// works without choosing one; Llama 3.3 70B where the provider lists it.
constexpr std::array kPresets{
    Preset{"openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
           "meta-llama/llama-3.3-70b-instruct", false},
    Preset{"venice", "https://api.venice.ai/api/v1", "VENICE_API_KEY", "llama-3.3-70b", false},
    Preset{"chutes", "https://llm.chutes.ai/v1", "CHUTES_API_KEY", "deepseek-ai/DeepSeek-V3-0324",
           false},
    Preset{"together", "https://api.together.xyz/v1", "TOGETHER_API_KEY",
           "meta-llama/Llama-3.3-70B-Instruct-Turbo", false},
    Preset{"fireworks", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY",
           "accounts/fireworks/models/llama-v3p3-70b-instruct", false},
    Preset{"groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "llama-3.3-70b-versatile",
           false},
    Preset{"deepinfra", "https://api.deepinfra.com/v1/openai", "DEEPINFRA_API_KEY",
           "meta-llama/Llama-3.3-70B-Instruct", false},
    Preset{"openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4o-mini", false},
    // Anthropic serves Claude only; Sonnet is its general-purpose tier.
    Preset{"anthropic", "https://api.anthropic.com/v1", "ANTHROPIC_API_KEY", "claude-sonnet-4-6",
           false, ApiStyle::anthropic},
    Preset{"ollama", "http://127.0.0.1:11434/v1", "", "llama3.2", true},
    // llama-server answers with whatever model it loaded, whatever the request names.
    Preset{"llamacpp", "http://127.0.0.1:8080/v1", "", "default", true},
};

}  // namespace

const Preset* find_preset(std::string_view name) {
  for (const Preset& preset : kPresets) {
    if (preset.name == name) return &preset;
  }
  return nullptr;
}

std::span<const Preset> all_presets() {
  return kPresets;
}

}  // namespace perdiem::providers
