// What every wire codec shares: bounded JSON parsing, token counts the wallet can trust,
// the mapping from HTTP statuses to error kinds, and the checks a request passes before
// any codec encodes it. Internal to runtime/providers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

// Deeper JSON than this is refused before parsing (no legitimate answer nests so deep).
inline constexpr std::size_t kMaxJsonDepth = 64;
// The most of a provider's own error message an Error quotes, in code points.
inline constexpr std::size_t kMaxQuotedErrorChars = 200;
// The most tool calls one reply may carry; more means a broken or hostile server.
inline constexpr std::size_t kMaxToolCalls = 128;

namespace wire {

// Ordered, so schemas and tool arguments keep the key order their author gave them:
// prompt caches match on exact bytes.
using Json = nlohmann::ordered_json;

// The parsed document, or nullopt for invalid or too deeply nested JSON. Never throws.
std::optional<Json> parse(std::string_view text);

// Serializes; invalid UTF-8 is replaced rather than thrown on.
std::string dump(const Json& value);

// object[name] when `object` is an object holding it, else nullptr.
const Json* member(const Json& object, const char* name);
// object[name] when it is a string, else "".
std::string string_member(const Json& object, const char* name);

// A token count: absent or null -> 0; a negative, fractional, oversized or non-number
// value -> nullopt, because the wallet charges by these numbers.
std::optional<std::int64_t> token_count(const Json& usage, const char* name);

// A USD amount as a JSON number (OpenRouter's usage.cost) in nano-USD, rounded up, to the
// precision of a double. nullopt for a negative, non-finite, absurdly large or
// non-number value: the figure is for reconciliation, so a bad one is dropped, not fatal.
std::optional<std::int64_t> usd_to_nanos(const Json& amount);

// The provider's own words from an error body: {"error":{"message"}}, {"error":"..."}
// (Ollama), {"message"} (vLLM, Anthropic's inner object) or {"detail"} (FastAPI).
std::string error_detail(const Json& doc);

// The Error for an HTTP status: 401/403 -> auth; 429 -> rate_limited (retryable);
// 408, 5xx (Anthropic's 529 included) -> provider (retryable); others -> provider.
// Quotes at most kMaxQuotedErrorChars of `detail`, on one line.
Error http_error(long status, std::string_view detail, const std::string& provider);

Error bad_response(std::string message, const std::string& provider);

// The JSON document of a provider's answer: an error for a non-2xx status (with the
// provider's own message when the body carries one) or a body that is not JSON.
Result<Json> parse_response(long http_status, std::string_view body, const std::string& provider);

// A JSON Schema given as text, as a JSON object; "" -> {"type":"object","properties":{}}.
// nullopt when the text is not a JSON object.
std::optional<Json> schema_object(std::string_view text);

}  // namespace wire

// Checks what every wire format needs before a request is encoded, so a plan's mistake
// fails early (before the wallet reserves anything) with invalid_argument naming the
// part at fault: tool names are 1-64 of [A-Za-z0-9_-] and unique; tool parameters and a
// response_format schema are JSON objects; a response_format has a name; a "tool"
// message has a tool_call_id; a named tool_choice names a declared tool. Tool-call
// arguments are not checked: they are the model's words, sent back as written.
Status validate_chat_request(const ChatRequest& request);

// The response headers worth keeping with a step for reconciliation: Venice's balances
// (x-venice-balance-usd, -diem, -vcu) and OpenRouter's x-generation-id. Expects the
// lowercase names http::Response carries; keeps them in the order given.
std::vector<std::pair<std::string, std::string>> kept_response_headers(
    const std::vector<std::pair<std::string, std::string>>& headers);

}  // namespace perdiem::providers
