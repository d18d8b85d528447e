// The OpenAI chat-completions wire format, both directions. Pure functions: bytes in,
// values or an Error out; no I/O, no secrets. The client side serves every
// OpenAI-compatible adapter; the server side serves the mock provider.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

// Deeper JSON than this is refused before parsing (no legitimate answer nests so deep).
inline constexpr std::size_t kMaxJsonDepth = 64;
// The most of a provider's own error message an Error quotes, in code points.
inline constexpr std::size_t kMaxQuotedErrorChars = 200;

// ---- client side ----

// The JSON body of POST /chat/completions: model, messages, max_tokens and temperature
// only when set, "stream": false. Invalid UTF-8 in the input is replaced, not an error.
std::string encode_chat_request(const ChatRequest& request);

// Maps one HTTP answer to a response or an Error whose source is `provider_name`.
//  2xx: choices[0].message.content (null -> ""), finish_reason, model, usage (absent ->
//       0). Undecodable JSON or no choices -> bad_response; a 2xx carrying only an
//       {"error": ...} object (OpenRouter does this) is mapped like the status it names.
//  401/403 -> auth; 429 -> rate_limited (retryable); 408, 5xx -> provider (retryable);
//  other statuses -> provider. Messages quote at most kMaxQuotedErrorChars of the
//  provider's error message and never the body itself.
Result<ChatResponse> decode_chat_response(long http_status, std::string_view body,
                                          const std::string& provider_name);

// ---- server side (the mock provider) ----

struct WireChatRequest {
  ChatRequest request;
  bool stream = false;
};

// Decodes a request body. Fails with kind invalid_argument; the message is fit to send
// back to the client in an OpenAI error body.
Result<WireChatRequest> decode_chat_request(std::string_view body);

// A complete "chat.completion" object for `response`.
std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                 std::int64_t created);

// {"error":{"message":..,"type":..,"code":..}}; an empty `code` is sent as null.
std::string encode_error_body(std::string_view message, std::string_view type,
                              std::string_view code = {});

}  // namespace perdiem::providers
