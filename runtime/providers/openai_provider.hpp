// An adapter for any server speaking the OpenAI chat-completions API: OpenRouter,
// Venice, Chutes, Together, Fireworks, Groq, DeepInfra, OpenAI, Ollama, llama.cpp, the
// mock provider.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
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
  std::chrono::milliseconds timeout{120'000};  // a whole call, streamed or not
  std::size_t max_response_bytes = 16u << 20;  // a larger answer fails as bad_response
  // Streamed calls only (chat_call with on_text): the first byte of the answer's body
  // must arrive within this, and then no gap between bytes may be longer than the
  // idle timeout. Servers that think before answering send SSE comments meanwhile.
  std::chrono::milliseconds stream_first_byte_timeout{60'000};
  std::chrono::milliseconds stream_idle_timeout{30'000};
  // http::Request::reuse_connection for every request; unset: its default (keep the
  // connection, except to loopback). Benchmarks keep loopback connections as a remote
  // provider's would be kept.
  std::optional<bool> reuse_connection{};
};

// Takes ownership of the key. `transport` must not be null. Thread-safe: concurrent
// chat() calls share only the immutable config and the (thread-safe) transport.
// Errors carry source = config.name and never contain the key, even when the server
// echoes it back.
// chat_call() streams when call.on_text is set ("stream": true with include_usage; see
// HttpChat::call_streamed for what it fills in the ChatCall) and otherwise sends one
// request; either way it fills call.http_status and call.retry_after. Both paths give
// the same ChatResponse, provider_cost_nanos (OpenRouter's usage.cost) and
// provider_headers included.
std::unique_ptr<Provider> make_openai_provider(OpenAiProviderConfig config,
                                               std::shared_ptr<http::Transport> transport);

}  // namespace perdiem::providers
