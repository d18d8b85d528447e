// A tool: a named, schema-described function the model (or the plan) may call, and the
// registry and grants a run uses to find and permit tools.
//
// Tools come from three sources: the host app (C++, through the SDK), the plan (Lua
// `tool.define`, bound in runtime/lua/) and MCP servers (tools/mcp/). All three end up
// as a `Tool` in a `ToolRegistry`; nothing here knows which source a tool came from
// except `Tool::builtin`, which decides whether it needs an explicit grant.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::tools {

// What a handler learns about the call it is serving. Plain values; the pointers, when
// set, outlive the call.
struct ToolContext {
  std::string run_id;   // the run making the call ("" outside a run)
  std::string call_id;  // the model's ToolCall::id ("" when the plan called directly)
  // Set by the runtime when the run is cancelled; long handlers should poll it.
  const std::atomic<bool>* cancelled = nullptr;

  bool is_cancelled() const { return cancelled != nullptr && cancelled->load(); }
};

// Runs one call. `args` has already been validated against the tool's schema. Returns
// the result (a string is shown to the model as is; anything else as JSON text) or an
// Error, which goes back to the model as a tool error it can read and correct.
// Thread-safety: may be called from several threads at once (parallel tool calls).
using ToolHandler =
    std::function<Result<nlohmann::json>(const nlohmann::json& args, const ToolContext&)>;

struct Tool {
  // "fetch", "fs.read", "weather.lookup" (MCP: "server.tool"). See valid_tool_name().
  std::string name;
  std::string description;
  // A JSON Schema for the arguments object. null or {} means the tool takes none.
  nlohmann::json parameters = nlohmann::json::object();
  ToolHandler handler;
  // Price per call in nano-USD; reserved and settled through the wallet by the runtime.
  std::optional<std::int64_t> price_nanos{};
  // Built-in tools (http.fetch, fs.*, shell.run, ...) may act on the world on their own,
  // so a run may call them only when granted (see ToolGrants).
  bool builtin = false;
};

// Names are one or more segments of [A-Za-z0-9_-] joined by '.', at most 64 characters
// in all: "fs.read", "everything.get-sum". The dot separates a namespace (a built-in
// family, an MCP server) from the tool.
bool valid_tool_name(std::string_view name);

// The name as sent to providers. OpenAI and Anthropic allow only [A-Za-z0-9_-] in tool
// names, so each '.' becomes "__": "fs.read" -> "fs__read". ToolRegistry::find accepts
// both forms and refuses two tools whose wire names collide.
std::string wire_tool_name(std::string_view name);

// The tool as a provider request lists it (wire name, description, schema text).
providers::ToolDefinition to_definition(const Tool& tool);

// The tools a process or a run knows, by name. Thread-safe: register, find and list may
// be called from any thread. Tools are immutable once registered and handed out as
// shared_ptr, so a tool being called stays alive even if it is later removed.
class ToolRegistry {
 public:
  // Fails (invalid_argument) on a bad name, a missing handler, a schema that is not an
  // object schema, a negative price, or a name (or wire name) already taken.
  Status add(Tool tool);
  // Removes a tool (say, an MCP server that went away); false when there was none.
  bool remove(std::string_view name);
  // Removes every tool whose name starts with `prefix` ("everything."); returns how many.
  std::size_t remove_prefix(std::string_view prefix);

  // By name or wire name; nullptr when unknown.
  std::shared_ptr<const Tool> find(std::string_view name) const;
  // Every tool, sorted by name.
  std::vector<std::shared_ptr<const Tool>> list() const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Tool>, std::less<>> by_name_;
  std::map<std::string, std::string, std::less<>> name_by_wire_;
};

// Which tools one run may call. Tools the host, the plan or an MCP server defined are
// allowed unless denied; built-in tools are refused unless granted by exact name or by
// family ("fs.*" grants fs.read, fs.write and fs.list). Plain value; not thread-safe to
// modify while another thread reads it.
class ToolGrants {
 public:
  // `pattern`: a tool name, "family.*", or "*" (every built-in; for tests and trusted
  // operators only).
  void allow(std::string pattern) { allowed_.insert(std::move(pattern)); }
  // Refuses a tool even when it is not built-in (an operator turning off an MCP tool).
  // Deny wins over allow.
  void deny(std::string pattern) { denied_.insert(std::move(pattern)); }

  bool allows(const Tool& tool) const;
  // ok, or a `tool` error naming the tool and the setting that would allow it.
  Status check(const Tool& tool) const;

 private:
  static bool matches(const std::set<std::string>& patterns, std::string_view name);
  std::set<std::string> allowed_;
  std::set<std::string> denied_;
};

}  // namespace perdiem::tools
