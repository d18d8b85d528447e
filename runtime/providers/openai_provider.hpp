// An adapter for any server speaking the OpenAI chat-completions API: OpenRouter,
// Venice, Chutes, Together, Fireworks, Groq, DeepInfra, OpenAI, Ollama, llama.cpp, the
// mock provider.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "base/secure_buffer.hpp"
#include "runtime/http/transport.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

struct OpenAiProviderConfig {
  std::string name;            // the provider's name in perdiem; Error.source
  std::string base_url;        // ".../v1"; requests go to {base_url}/chat/completions
  base::SecureBuffer api_key;  // sent as a bearer token when not empty
  std::string key_env;         // where the key comes from, for hints ("OPENROUTER_API_KEY")
  std::string default_model;   // used when a request names no model
  std::chrono::milliseconds timeout{120'000};
  std::size_t max_response_bytes = 16u << 20;  // a larger answer fails as bad_response
};

// Takes ownership of the key. `transport` must not be null. Thread-safe: concurrent
// chat() calls share only the immutable config and the (thread-safe) transport.
// Errors carry source = config.name and never contain the key, even when the server
// echoes it back.
std::unique_ptr<Provider> make_openai_provider(OpenAiProviderConfig config,
                                               std::shared_ptr<http::Transport> transport);

}  // namespace perdiem::providers
