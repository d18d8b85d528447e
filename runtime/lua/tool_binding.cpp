// tool.*: tools the plan defines, calls, and runs for the model.
//
//   tool.define{name=, description=, params=, fn=}   a tool written in Lua
//   tool.call(name, args) -> result                   call one (Lua or host tool)
//   tool.run(reply.tool_calls) -> {tool messages}     run the model's calls, in order
//   tool.list() -> {{name=, description=}, ...}       what this run may call
//
// Lua tools run on the plan's own thread (a Lua state is single-threaded); host, built-in
// and MCP tools go to the host, which checks grants, validates arguments and pays for
// priced tools. Lua tools' arguments are validated here against their params schema.
#include <new>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/json_codec.hpp"
#include "runtime/lua/plan_bindings.hpp"
#include "tools/schema.hpp"
#include "tools/tool.hpp"

namespace perdiem::lua {
namespace {

const char kLuaToolsKey = 0;  // registry slot: name -> {description=, params=, fn=}

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

[[noreturn]] void raise(lua_State* L, const Error& error) {
  push_error_table(L, error);
  lua_error(L);
  std::abort();  // lua_error does not return
}

JsonLimits json_limits(lua_State* L) {
  JsonLimits limits;
  limits.max_depth = context_of(L).limits.json_max_depth;
  limits.max_bytes = context_of(L).limits.memory_limit_bytes;
  return limits;
}

// Pushes the plan's tool table (creating it on first use).
void push_lua_tools(lua_State* L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kLuaToolsKey) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLuaToolsKey);
}

// Pushes the Lua tool `name` (by name or wire name), or nil.
void push_lua_tool(lua_State* L, const std::string& name) {
  push_lua_tools(L);
  lua_pushlstring(L, name.data(), name.size());
  if (lua_rawget(L, -2) == LUA_TNIL) {
    lua_pop(L, 1);
    // The model may use the wire form ("notes__add" for "notes.add").
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING && tools::wire_tool_name(lua_tostring(L, -1)) == name) {
        lua_rawget(L, -2);
        lua_remove(L, -2);
        return;
      }
    }
    lua_pushnil(L);
  }
  lua_remove(L, -2);
}

std::string string_field(lua_State* L, int table, const char* key) {
  lua_getfield(L, table, key);
  std::string value = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  return value;
}

// The Lua tool at the top of the stack as the model sees it.
providers::ToolDefinition lua_definition(lua_State* L, const std::string& name) {
  const int tool = lua_gettop(L);
  providers::ToolDefinition definition;
  definition.name = tools::wire_tool_name(name);
  definition.description = string_field(L, tool, "description");
  lua_getfield(L, tool, "params_json");
  definition.parameters = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  return definition;
}

int tool_define(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const std::string name = string_field(L, 1, "name");
  if (!tools::valid_tool_name(name)) {
    luaL_error(L,
               "tool.define: name must be segments of letters, digits, '_' or '-' joined by "
               "'.', at most 64 characters (got '%s')",
               name.c_str());
  }
  lua_getfield(L, 1, "fn");
  if (!lua_isfunction(L, -1)) luaL_error(L, "tool.define: fn must be a function");
  lua_pop(L, 1);
  nlohmann::json schema = nlohmann::json::object();
  lua_getfield(L, 1, "params");
  if (!lua_isnil(L, -1)) {
    Result<nlohmann::json> params = to_json(L, lua_gettop(L), json_limits(L));
    if (!params || !params->is_object()) {
      luaL_error(L,
                 "tool.define: params must be a JSON Schema table, e.g. {type=\"object\", "
                 "properties={...}}");
    }
    schema = std::move(*params);
  }
  lua_pop(L, 1);
  PlanContext& context = context_of(L);
  if (context.host->tool_definitions && context.host->tool_definitions({name})) {
    luaL_error(L, "tool.define: '%s' is already a host tool", name.c_str());
  }
  push_lua_tools(L);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, string_field(L, 1, "description").c_str());
  lua_setfield(L, -2, "description");
  lua_pushstring(L, schema.dump().c_str());
  lua_setfield(L, -2, "params_json");
  lua_getfield(L, 1, "fn");
  lua_setfield(L, -2, "fn");
  lua_setfield(L, -2, name.c_str());
  return 0;
}

// Pushes a host tool's result: JSON becomes a Lua value, plain text stays a string. An
// error is raised as its error table.
void push_host_result(lua_State* L, const Result<std::string>& result) {
  if (!result) raise(L, result.error());
  const std::string& text = result.value();
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || parsed.is_string()) {
    lua_pushlstring(L, text.data(), text.size());
  } else {
    json_codec::decode(L, text, json_limits(L));
  }
}

// Calls the tool `name` with the JSON arguments `arguments`; pushes its result (a Lua
// value) or raises a `tool` error table.
void call_named(lua_State* L, const std::string& name, const nlohmann::json& arguments) {
  push_lua_tool(L, name);
  if (!lua_isnil(L, -1)) {
    const int tool = lua_gettop(L);
    lua_getfield(L, tool, "params_json");
    const nlohmann::json schema = nlohmann::json::parse(lua_tostring(L, -1));
    lua_pop(L, 1);
    if (Status valid = tools::validate_against_schema(schema, arguments); !valid.ok()) {
      raise(L, make_error(ErrorKind::tool, valid.error().message, name));
    }
    lua_getfield(L, tool, "fn");
    json_codec::decode(L, arguments.dump(), json_limits(L));
    lua_call(L, 1, 1);
    lua_remove(L, tool);
    return;
  }
  lua_pop(L, 1);
  PlanContext& context = context_of(L);
  if (!context.host->call_tool) {
    raise(L, make_error(ErrorKind::tool, "no tool named '" + name + "' is defined", name));
  }
  Result<std::string> result = context.host->call_tool(name, arguments.dump());
  context.sandbox->check(L);
  push_host_result(L, result);
}

// Whether this call may park its host tool calls for the driver (a scheduler runs them
// off its loop thread) rather than make them here.
bool may_park_tools(lua_State* L, const PlanContext& context) {
  return L == context.plan_thread && lua_isyieldable(L);
}

// The parked calls' results, taken from the context; a perdiem bug if missing.
std::vector<Result<std::string>> take_tool_answers(lua_State* L, PlanContext& context,
                                                   std::size_t expected, const char* what) {
  context.sandbox->check(L);
  if (!context.tool_answers || context.tool_answers->size() != expected) {
    luaL_error(L, "%s: the plan was resumed without its tools' results (a perdiem bug)", what);
  }
  std::vector<Result<std::string>> answers = std::move(*context.tool_answers);
  context.tool_answers.reset();
  return answers;
}

int tool_call_continue(lua_State* L, int, lua_KContext) {
  PlanContext& context = context_of(L);
  std::vector<Result<std::string>> answers = take_tool_answers(L, context, 1, "tool.call");
  push_host_result(L, answers.front());
  return 1;
}

// tool.call's work: parks a host tool's call for the driver (returns -1: the caller
// yields), or makes the call in place (returns 1, its result pushed).
int tool_call_or_park(lua_State* L) {
  const std::string name = luaL_checkstring(L, 1);
  nlohmann::json arguments = nlohmann::json::object();
  if (!lua_isnoneornil(L, 2)) {
    Result<nlohmann::json> converted = to_json(L, 2, json_limits(L));
    if (!converted) raise(L, make_error(ErrorKind::invalid_argument, converted.error().message));
    arguments = std::move(*converted);
  }
  lua_settop(L, 2);
  PlanContext& context = context_of(L);
  push_lua_tool(L, name);
  const bool lua_tool = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!lua_tool && context.host->call_tool && may_park_tools(L, context)) {
    context.pending_tools.emplace();
    context.pending_tools->emplace_back(name, arguments.dump());
    context.tool_answers.reset();
    return -1;
  }
  call_named(L, name, arguments);
  return 1;
}

// Yields from a frame with nothing to destroy, as model.chat does (model_binding.cpp).
int tool_call(lua_State* L) {
  const int results = tool_call_or_park(L);
  if (results < 0) return lua_yieldk(L, 0, 0, tool_call_continue);
  return results;
}

// Runs call_named under pcall so a failing tool becomes text for the model.
int protected_call(lua_State* L) {
  const auto* name = static_cast<const std::string*>(lua_touserdata(L, 1));
  const auto* arguments = static_cast<const nlohmann::json*>(lua_touserdata(L, 2));
  call_named(L, *name, *arguments);
  return 1;
}

// The result at the top of the stack as the text a tool message carries.
std::string result_text(lua_State* L) {
  if (lua_type(L, -1) == LUA_TSTRING) return lua_tostring(L, -1);
  Result<std::string> json = encode_json(L, lua_gettop(L), json_limits(L), InvalidUtf8::replace);
  return json ? *json : "error: the tool's result cannot be shown as JSON: " + json.error().message;
}

std::string error_text(lua_State* L) {
  if (std::optional<Error> error = read_error_table(L, -1)) return "error: " + error->message;
  if (lua_type(L, -1) == LUA_TSTRING) return std::string("error: ") + lua_tostring(L, -1);
  return "error: the tool failed";
}

// One call of a model reply, as tool.run handles it.
struct PendingCall {
  std::string id;
  std::string name;
  nlohmann::json arguments;
  bool host = false;    // a host, built-in or MCP tool: may run beside the others
  std::string content;  // what the model reads back
};

// tool.run's calls, in a userdata on its stack so they survive its yield.
using PendingCalls = std::vector<PendingCall>;
const char kPendingCallsType[] = "perdiem.tool_run";

int pending_calls_gc(lua_State* L) {
  static_cast<PendingCalls*>(lua_touserdata(L, 1))->~PendingCalls();
  return 0;
}

PendingCalls& push_pending_calls(lua_State* L) {
  void* memory = lua_newuserdatauv(L, sizeof(PendingCalls), 0);
  auto* calls = new (memory) PendingCalls();
  if (luaL_newmetatable(L, kPendingCallsType)) {
    lua_pushcfunction(L, pending_calls_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return *calls;
}

// The host calls' results into their calls' content, in order.
void take_results(PendingCalls& calls, const std::vector<Result<std::string>>& results) {
  std::size_t next = 0;
  for (PendingCall& call : calls) {
    if (!call.host) continue;
    const Result<std::string>& result = results.at(next++);
    call.content = result ? result.value() : "error: " + result.error().message;
  }
}

// tool.run once the host calls have their results: the plan's own Lua tools, one after
// another, then the tool messages.
int finish_tool_run(lua_State* L, PendingCalls& calls) {
  PlanContext& context = context_of(L);
  for (PendingCall& call : calls) {
    if (call.host || !call.content.empty()) continue;
    lua_pushvalue(L, lua_upvalueindex(1));  // protected_call needs the context too
    lua_pushcclosure(L, protected_call, 1);
    lua_pushlightuserdata(L, &call.name);
    lua_pushlightuserdata(L, &call.arguments);
    const int status = lua_pcall(L, 2, 1, 0);
    context.sandbox->check(L);  // limits are not the model's to correct
    call.content = status == LUA_OK ? result_text(L) : error_text(L);
    lua_pop(L, 1);
  }

  lua_createtable(L, static_cast<int>(calls.size()), 0);
  for (std::size_t i = 0; i < calls.size(); ++i) {
    lua_createtable(L, 0, 3);
    lua_pushliteral(L, "tool");
    lua_setfield(L, -2, "role");
    lua_pushlstring(L, calls[i].id.data(), calls[i].id.size());
    lua_setfield(L, -2, "tool_call_id");
    lua_pushlstring(L, calls[i].content.data(), calls[i].content.size());
    lua_setfield(L, -2, "content");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int tool_run_continue(lua_State* L, int, lua_KContext batched) {
  PlanContext& context = context_of(L);
  auto& calls = *static_cast<PendingCalls*>(luaL_checkudata(L, 2, kPendingCallsType));
  take_results(calls, take_tool_answers(L, context, static_cast<std::size_t>(batched),
                                        "tool.run"));
  return finish_tool_run(L, calls);
}

// tool.run(calls): returns the tool messages to append to the conversation, in call
// order. Host, built-in and MCP tools run at once (host.call_tools; under a scheduler,
// off its loop thread while the plan waits); the plan's own Lua tools then run one after
// another on the plan's thread. A call that fails (unknown tool, invalid JSON or
// arguments, the tool's own error) answers "error: ..." so the model can correct it;
// running out of memory or time still ends the plan.
int tool_run(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  PlanContext& context = context_of(L);
  PendingCalls& calls = push_pending_calls(L);  // at 2, kept across the yield
  const lua_Unsigned count = lua_rawlen(L, 1);
  for (lua_Unsigned i = 1; i <= count; ++i) {
    lua_rawgeti(L, 1, static_cast<lua_Integer>(i));
    const int call = lua_gettop(L);
    if (!lua_istable(L, call)) luaL_error(L, "tool.run: expected the reply's tool_calls");
    PendingCall pending;
    pending.id = string_field(L, call, "id");
    pending.name = string_field(L, call, "name");
    const std::string raw = string_field(L, call, "arguments");
    pending.arguments =
        raw.empty() ? nlohmann::json::object() : nlohmann::json::parse(raw, nullptr, false);
    if (pending.arguments.is_discarded()) {
      pending.content = "error: the arguments are not valid JSON; send a JSON object";
    } else {
      push_lua_tool(L, pending.name);
      pending.host = lua_isnil(L, -1) && context.host->call_tools;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    calls.push_back(std::move(pending));
  }

  std::vector<std::pair<std::string, std::string>> batch;
  for (const PendingCall& call : calls) {
    if (call.host) batch.emplace_back(call.name, call.arguments.dump());
  }
  if (!batch.empty()) {
    if (may_park_tools(L, context)) {
      const auto batched = static_cast<lua_KContext>(batch.size());
      context.pending_tools = std::move(batch);
      context.tool_answers.reset();
      return lua_yieldk(L, 0, batched, tool_run_continue);
    }
    std::vector<Result<std::string>> results = context.host->call_tools(batch);
    context.sandbox->check(L);
    take_results(calls, results);
  }
  return finish_tool_run(L, calls);
}

int tool_list(lua_State* L) {
  PlanContext& context = context_of(L);
  std::vector<providers::ToolDefinition> listed;
  if (context.host->list_tools) listed = context.host->list_tools();
  push_lua_tools(L);
  const int lua_tools = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, lua_tools) != 0) {
    listed.push_back({lua_tostring(L, -2), string_field(L, lua_gettop(L), "description")});
    lua_pop(L, 1);
  }
  lua_createtable(L, static_cast<int>(listed.size()), 0);
  for (std::size_t i = 0; i < listed.size(); ++i) {
    lua_createtable(L, 0, 2);
    lua_pushstring(L, listed[i].name.c_str());
    lua_setfield(L, -2, "name");
    lua_pushstring(L, listed[i].description.c_str());
    lua_setfield(L, -2, "description");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

}  // namespace

std::vector<Result<std::string>> ask_host_tools(
    PlanHost& host, const std::vector<std::pair<std::string, std::string>>& calls) {
  try {
    if (host.call_tools && (calls.size() > 1 || !host.call_tool)) return host.call_tools(calls);
    std::vector<Result<std::string>> results;
    results.reserve(calls.size());
    for (const auto& [name, arguments] : calls) {
      if (host.call_tool) {
        results.push_back(host.call_tool(name, arguments));
      } else {
        results.push_back(
            make_error(ErrorKind::tool, "no tool named '" + name + "' is defined", name));
      }
    }
    return results;
  } catch (const std::exception& e) {
    return std::vector<Result<std::string>>(
        calls.size(),
        make_error(ErrorKind::internal, std::string("the tool host failed: ") + e.what()));
  }
}

void fill_tool_definitions(lua_State* L, PlanContext& context, providers::ChatRequest& request) {
  if (request.tools.empty()) return;
  std::vector<std::string> host_names;
  std::vector<std::size_t> host_positions;
  for (std::size_t i = 0; i < request.tools.size(); ++i) {
    const std::string name = request.tools[i].name;
    push_lua_tool(L, name);
    if (!lua_isnil(L, -1)) {
      request.tools[i] = lua_definition(L, name);
    } else {
      host_names.push_back(name);
      host_positions.push_back(i);
    }
    lua_pop(L, 1);
  }
  if (host_names.empty()) return;
  if (!context.host->tool_definitions) {
    raise(L, make_error(ErrorKind::tool, "no tool named '" + host_names.front() + "' is defined",
                        host_names.front()));
  }
  Result<std::vector<providers::ToolDefinition>> definitions =
      context.host->tool_definitions(host_names);
  if (!definitions) raise(L, definitions.error());
  if (definitions->size() != host_positions.size()) {
    raise(L, make_error(ErrorKind::internal, "the host described the wrong number of tools"));
  }
  for (std::size_t i = 0; i < host_positions.size(); ++i) {
    request.tools[host_positions[i]] = std::move((*definitions)[i]);
  }
}

void push_tool_module(lua_State* L, PlanContext& context) {
  const std::pair<const char*, lua_CFunction> functions[] = {
      {"define", tool_define}, {"call", tool_call}, {"run", tool_run}, {"list", tool_list}};
  lua_createtable(L, 0, 4);
  for (const auto& [name, function] : functions) {
    lua_pushlightuserdata(L, &context);
    lua_pushcclosure(L, function, 1);
    lua_setfield(L, -2, name);
  }
}

}  // namespace perdiem::lua
