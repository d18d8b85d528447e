// JSON-RPC 2.0 messages as MCP's stdio transport carries them: one JSON object per
// line, UTF-8, no embedded newlines. Pure functions: bytes in, a message or an error
// out, so a server's output can be fuzzed without a server.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"

namespace perdiem::tools::mcp {

// Standard JSON-RPC error codes we send or recognise.
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;

struct Incoming {
  enum class Kind { request, notification, result, error };
  Kind kind = Kind::notification;
  nlohmann::json id;      // request, result, error: the id (a number or a string)
  std::string method;     // request, notification
  nlohmann::json params;  // request, notification (null when absent)
  nlohmann::json result;  // result
  int error_code = 0;     // error
  std::string error_message;
  nlohmann::json error_data;
};

// Parses one line. Fails (bad_response) on invalid JSON, nesting deeper than
// `max_depth`, a batch (an array), or an object that is no JSON-RPC 2.0 message.
Result<Incoming> parse_message(std::string_view line, std::size_t max_depth = 64);

// One line each, without the trailing newline; invalid UTF-8 is replaced, never thrown.
std::string request_line(std::int64_t id, std::string_view method, const nlohmann::json& params);
std::string notification_line(std::string_view method, const nlohmann::json& params);
std::string result_line(const nlohmann::json& id, const nlohmann::json& result);
std::string error_line(const nlohmann::json& id, int code, std::string_view message);

}  // namespace perdiem::tools::mcp
