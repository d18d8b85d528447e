// The OpenAI chat-completions wire format, both directions. Pure functions: bytes in,
// values or an Error out; no I/O, no secrets. The client side serves every
// OpenAI-compatible adapter; the server side serves the mock provider.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers {

// ---- client side ----

// The JSON body of POST /chat/completions, "stream": false. Sends model, messages,
// max_tokens and temperature only when set; tools, tool_choice and response_format
// (json_schema) when given. Assistant messages carry their tool_calls (content null when
// empty), "tool" messages their tool_call_id. Expects a request validate_chat_request()
// accepted: a schema that is not a JSON object is sent as an empty object schema.
// Invalid UTF-8 in the input is replaced, not an error.
std::string encode_chat_request(const ChatRequest& request);

// The same body for a streamed answer: "stream": true and
// "stream_options": {"include_usage": true}, so the last chunk reports usage.
// Decode the answer with OpenAiStreamAccumulator (openai_stream.hpp) on a 2xx, and with
// decode_chat_response otherwise.
std::string encode_chat_stream_request(const ChatRequest& request);

// Maps one HTTP answer to a response or an Error whose source is `provider_name`.
//  2xx: choices[0].message.content (null -> ""), its tool_calls (arguments kept as
//       text; the legacy function_call too), finish_reason, model, usage (absent -> 0;
//       prompt_tokens_details.cached_tokens / cache_write_tokens, clamped to the prompt;
//       OpenRouter's usage.cost -> provider_cost_nanos). Undecodable JSON, no choices or
//       more than kMaxToolCalls tool calls -> bad_response; a 2xx carrying only an
//       {"error": ...} object (OpenRouter does this) is mapped like the status it names.
//  401/403 -> auth; 429 -> rate_limited (retryable); 408, 5xx -> provider (retryable);
//  other statuses -> provider. Messages quote at most kMaxQuotedErrorChars of the
//  provider's error message and never the body itself.
// Response headers are the adapter's: it fills provider_headers (kept_response_headers).
Result<ChatResponse> decode_chat_response(long http_status, std::string_view body,
                                          const std::string& provider_name);

namespace openai {

// Shared by the whole-body and the streaming decoders.

// A usage object as above; nullopt when a count is negative, fractional or not a number.
std::optional<Usage> decode_usage(const wire::Json& usage);

// The Error for an {"error": ...} object delivered with a 2xx status or inside a stream:
// its integer "code" names the HTTP status it stands for when it is one (400-599);
// otherwise a "rate_limit" code or type means 429 and anything else 502.
Error in_band_error(const wire::Json& doc, const std::string& provider_name);

// A tool call from a message or a delta: "arguments" kept as text (an object is
// serialized); absent fields are "".
ToolCall decode_tool_call(const wire::Json& call);

// The usage object a server sends: prompt, completion and total tokens, and
// prompt_tokens_details when any prompt tokens were cached.
wire::Json encode_usage(const Usage& usage);

}  // namespace openai

// ---- server side (the mock provider) ----

struct WireChatRequest {
  ChatRequest request;
  bool stream = false;
};

// Decodes a request body: model, messages (with tool_calls and tool_call_id), the caps,
// stream, tools and tool_choice. Fails with kind invalid_argument; the message is fit to
// send back to the client in an OpenAI error body.
Result<WireChatRequest> decode_chat_request(std::string_view body);

// A complete "chat.completion" object for `response`, its tool calls included.
std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                 std::int64_t created);

// {"error":{"message":..,"type":..,"code":..}}; an empty `code` is sent as null.
std::string encode_error_body(std::string_view message, std::string_view type,
                              std::string_view code = {});

}  // namespace perdiem::providers
