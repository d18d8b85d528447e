// An adapter for Anthropic's Messages API (POST {base_url}/messages), mapped to the same
// ChatRequest / ChatResponse as every other provider.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "base/secure_buffer.hpp"
#include "runtime/http/transport.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

struct AnthropicProviderConfig {
  std::string name;            // the provider's name in perdiem; Error.source
  std::string base_url;        // "https://api.anthropic.com/v1"; requests go to {base_url}/messages
  base::SecureBuffer api_key;  // sent as the x-api-key header when not empty
  std::string key_env;         // where the key comes from, for hints ("ANTHROPIC_API_KEY")
  std::string default_model;   // used when a request names no model
  // The API requires max_tokens; sent when a request sets none.
  int default_max_tokens = 4096;
  std::chrono::milliseconds timeout{120'000};  // a whole call, streamed or not
  std::size_t max_response_bytes = 16u << 20;  // a larger answer fails as bad_response
  // Streamed calls only; see OpenAiProviderConfig.
  std::chrono::milliseconds stream_first_byte_timeout{60'000};
  std::chrono::milliseconds stream_idle_timeout{30'000};
};

// Takes ownership of the key. `transport` must not be null. Thread-safe, like the
// OpenAI adapter. Requests carry x-api-key (built in locked memory), anthropic-version
// (kAnthropicVersion) and content-type application/json.
// chat_call() streams when call.on_text is set ("stream": true; message_start, content
// blocks of text and tool_use, message_delta with stop_reason and usage, message_stop;
// ping and unknown events ignored, an error event fails the call) and otherwise sends one
// request. Usage counts cache reads and writes (anthropic::decode_usage). HTTP 529
// (overloaded) is a retryable provider error, like 5xx. Errors carry source = config.name
// and never contain the key, even when the server echoes it back.
std::unique_ptr<Provider> make_anthropic_provider(AnthropicProviderConfig config,
                                                  std::shared_ptr<http::Transport> transport);

}  // namespace perdiem::providers
