// The Anthropic Messages API wire format (POST /v1/messages), mapped to the same
// ChatRequest / ChatResponse as every other provider. Pure functions: bytes in, values or
// an Error out; no I/O. The client side serves the Anthropic adapter; the server side
// serves the mock provider and tests. Streaming is in anthropic_stream.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers {

// The API version every request names (the anthropic-version header).
inline constexpr std::string_view kAnthropicVersion = "2023-06-01";

struct AnthropicEncodeOptions {
  // The API requires max_tokens; this is sent when the request sets none.
  int default_max_tokens = 4096;
  bool stream = false;  // "stream": true; decode the answer with AnthropicStreamAccumulator
};

// The JSON body of POST /v1/messages.
//  - "system" and "developer" messages become the top-level "system" prompt, joined by a
//    blank line; Anthropic has no system role.
//  - "assistant" messages keep their role: a text block when content is not empty, then
//    a tool_use block per tool call (arguments that are not a JSON object are sent as {}).
//  - "tool" messages become tool_result blocks in a user turn; any other role is "user".
//    Consecutive turns of one role are merged, tool results ahead of text, as the API
//    requires; a message with nothing to send is dropped.
//  - tools with input_schema; tool_choice auto / any (our "required") / none / tool.
//  - response_format is not sent: the Messages API has no JSON-schema output mode, so a
//    router must not pick Anthropic for a request that needs one.
// Expects a request validate_chat_request() accepted. Invalid UTF-8 is replaced.
std::string encode_anthropic_request(const ChatRequest& request,
                                     const AnthropicEncodeOptions& options = {});

// Maps one HTTP answer to a response or an Error whose source is `provider_name`.
//  2xx: text blocks joined, tool_use blocks as tool calls (input serialized), model,
//       stop_reason as finish_reason (anthropic::finish_reason), usage (see
//       anthropic::decode_usage). Undecodable JSON, no content array, bad usage or more
//       than kMaxToolCalls tool calls -> bad_response; a 2xx {"type":"error"} body is
//       mapped like the status its error type stands for.
//  Other statuses map like decode_chat_response's (wire::http_error): 529 (overloaded)
//  is a retryable provider error. The provider's message is quoted, the body never.
Result<ChatResponse> decode_anthropic_response(long http_status, std::string_view body,
                                               const std::string& provider_name);

// The headers a request needs besides the body: x-api-key, anthropic-version and
// content-type.
// WARNING: the first pair holds the API key in a plain string. Build it just before
// sending, never log or trace request headers, and drop it when the request is done.
std::vector<std::pair<std::string, std::string>> anthropic_request_headers(
    std::string_view api_key);

namespace anthropic {

// Shared with the streaming decoder.

// stop_reason in OpenAI's words, so callers see one vocabulary: end_turn and
// stop_sequence -> "stop", max_tokens and model_context_window_exceeded -> "length",
// tool_use -> "tool_calls", refusal -> "content_filter"; others pass through.
std::string finish_reason(std::string_view stop_reason);

// Anthropic counts cache reads and writes apart from input_tokens; the Usage contract
// counts every prompt token in input_tokens. So input_tokens = input_tokens +
// cache_creation_input_tokens + cache_read_input_tokens, cached_input_tokens = the
// reads, cache_write_input_tokens = the writes. nullopt for a bad count or a sum that
// does not fit.
std::optional<Usage> decode_usage(const wire::Json& usage);

// The HTTP status an error type stands for: invalid_request_error 400,
// authentication_error 401, permission_error 403, not_found_error 404,
// request_too_large 413, rate_limit_error 429, api_error 500, overloaded_error 529;
// unknown types 500.
long status_for_error_type(std::string_view type);

// The Error for an {"type":"error","error":{"type","message"}} document received with a
// 2xx status or as a stream event.
Error in_band_error(const wire::Json& doc, const std::string& provider_name);

// ---- server side (the mock provider, tests) ----

// finish_reason back in Anthropic's words (the inverse of finish_reason()).
std::string stop_reason(std::string_view finish_reason);

// A usage object as the API sends it (input_tokens without the cached parts).
wire::Json encode_usage(const Usage& usage);

}  // namespace anthropic

// A complete "message" object for `response`: a text block when there is text, a
// tool_use block per tool call, stop_reason, usage.
std::string encode_anthropic_response(const ChatResponse& response, std::string_view id);

// {"type":"error","error":{"type":..,"message":..}}.
std::string encode_anthropic_error_body(std::string_view type, std::string_view message);

}  // namespace perdiem::providers
