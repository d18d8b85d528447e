// How the mock provider writes its answers: whole bodies and server-sent event streams,
// broken on purpose as the options ask (cut JSON, an HTML page, padding, a slow drip, a
// stream cut off mid-way), and the Anthropic request decoder its /v1/messages route
// needs. Internal to runtime/providers.
#pragma once

#include <httplib.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/mock_provider.hpp"
#include "runtime/providers/openai_codec.hpp"

namespace perdiem::providers::mock {

// Waits `delay`, or less if the server is stopping; false when it is.
using Pause = std::function<bool(std::chrono::milliseconds delay)>;

// Called once a response's fate is known (its status), for the server's counts.
using Counted = std::function<void(int status)>;

// A 200 answer with `body` as `content_type`, unless the options break it:
// wrong_content_type sends an HTML page as text/html, malformed_json the first half of
// the body, oversized_body_bytes pads a JSON body with trailing spaces (still valid
// JSON) up to that size.
void answer(httplib::Response& res, std::string body, std::string_view content_type,
            const MockProviderOptions& options);

// Streams `events` (each a complete SSE event with its blank line) as text/event-stream,
// waiting options.chunk_delay before each, closing the connection without ending the
// chunked body after options.cut_after_chunks events, and with malformed_json cutting
// the first event's JSON in half. wrong_content_type sends the HTML page instead.
// `pause` must stay callable until the response is written.
void stream(httplib::Response& res, std::vector<std::string> events,
            const MockProviderOptions& options, Pause pause);

// The OpenAI chunks of `response` ("chat.completion.chunk"s then "data: [DONE]"), with
// the usage chunk only when `include_usage`.
std::vector<std::string> openai_events(const ChatResponse& response, std::string_view id,
                                       std::int64_t created, bool include_usage);

// The body of POST /v1/messages: model, system, messages (text and tool_result blocks,
// assistant tool_use blocks), max_tokens, temperature, tools, tool_choice, stream.
// invalid_argument with a message fit for an Anthropic error body.
Result<WireChatRequest> decode_anthropic_request(std::string_view body);

// The Anthropic error type for an HTTP status (429 rate_limit_error, 529/503
// overloaded_error, 5xx api_error, ...).
std::string_view anthropic_error_type(int status);

}  // namespace perdiem::providers::mock
