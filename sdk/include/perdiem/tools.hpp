// Tools a run's model and plan may call, from the host app, MCP servers and perdiem's
// built-ins. Plans define their own with tool.define (docs/lua-api.md#tool).
//
// Thread-safety: a HostTool's handler is called from the threads running plans, several
// at once (many runs, parallel tool calls): it must be thread-safe. An exception it
// throws fails that call with kind `internal`; the model sees the error and may retry.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/export.h"

namespace perdiem {

struct HostTool {
  // Segments of [A-Za-z0-9_-] joined by '.', at most 64 characters: "orders.lookup".
  std::string name;
  std::string description;  // what the model reads to decide when to call it
  // A JSON Schema (JSON text) for the arguments object; "" = no arguments. Calls are
  // validated against it before the handler runs; an invalid call goes back to the model.
  std::string parameters_json;
  // Gets the validated arguments as JSON text; returns the result (plain text, or JSON
  // text, which a plan receives as a value) or an Error the model sees.
  std::function<Result<std::string>(const std::string& arguments_json)> handler;
  // A price per call in nano-USD: reserved before the call and settled after it, with a
  // signed receipt, like a model call. Empty: free.
  std::optional<std::int64_t> price_nanos;
};

// An MCP server speaking the stdio transport: started with the runtime, its tools
// registered as "<name>.<tool>".
struct McpServer {
  std::string name;     // [A-Za-z0-9_-]+
  std::string command;  // the program, found on PATH
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // added to a minimal environment
};

// The MCP servers declared in PERDIEM_HOME/config.json:
//   {"mcp_servers": {"files": {"command": "npx", "args": ["-y", "..."], "env": {...}}}}
// Empty when there is no config file or no such section; `config` errors say what is
// malformed.
PERDIEM_API Result<std::vector<McpServer>> mcp_servers_from_config(const std::string& home);

struct ToolInfo {
  std::string name;
  std::string description;
  bool builtin = false;  // needs a grant (RunOptions::allowed_tools, --allow-tool)
  std::optional<std::int64_t> price_nanos;
};

}  // namespace perdiem
