// agent.spawn(name, args, {budget=, timeout=, max_steps=}): a sub-agent in its own
// sandbox and run, started in the background with a budget carved from the parent's;
// child:await() returns its result or raises its error.
#include <algorithm>
#include <cmath>
#include <string>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/json_codec.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

constexpr std::size_t kMaxArgs = 256;

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// "workers.summarize" or "workers/summarize.lua"-style "summarize.lua": the file the
// plan's require would find, so a sub-agent comes from the same directories.
std::filesystem::path resolve_script(lua_State* L, PlanContext& context, std::string name) {
  if (name.ends_with(".lua")) name.resize(name.size() - 4);
  if (!valid_module_name(name)) {
    raise_error_table(L, make_error(ErrorKind::sandbox,
                                    "agent.spawn(\"" + name.substr(0, 200) +
                                        "\"): name a plan as require would, e.g. "
                                        "\"worker\" or \"agents.worker\" for agents/worker.lua; "
                                        "paths are not available in the perdiem sandbox",
                                    where(L, 1)));
  }
  std::string relative = name;
  std::replace(relative.begin(), relative.end(), '.', '/');
  std::filesystem::path file = find_module(*context.host, relative + ".lua");
  if (file.empty()) {
    raise_error_table(L, make_error(ErrorKind::not_found,
                                    "agent.spawn: no plan '" + name +
                                        "' in the script's directory or the plan library",
                                    where(L, 1)));
  }
  return file;
}

std::vector<std::string> read_args(lua_State* L, int index) {
  std::vector<std::string> args;
  if (lua_isnoneornil(L, index)) return args;
  if (!lua_istable(L, index)) luaL_error(L, "agent.spawn: args must be a list of strings");
  const lua_Integer count = static_cast<lua_Integer>(lua_rawlen(L, index));
  if (count > static_cast<lua_Integer>(kMaxArgs)) {
    luaL_error(L, "agent.spawn: at most %d args", static_cast<int>(kMaxArgs));
  }
  for (lua_Integer i = 1; i <= count; ++i) {
    const int type = lua_rawgeti(L, index, i);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) {
      luaL_error(L, "agent.spawn: args[%d] must be a string or a number", static_cast<int>(i));
    }
    std::size_t length = 0;
    const char* text = lua_tolstring(L, -1, &length);
    args.emplace_back(text, length);
    lua_pop(L, 1);
  }
  return args;
}

double number_field(lua_State* L, int table, const char* key, double none) {
  lua_getfield(L, table, key);
  double value = none;
  if (!lua_isnil(L, -1)) {
    value = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1.0;
    if (!std::isfinite(value) || value < 0 || value > 1e9) {
      luaL_error(L, "agent.spawn: %s must be a number, 0 or more", key);
    }
  }
  lua_pop(L, 1);
  return value;
}

void read_options(lua_State* L, int index, SpawnRequest& request) {
  if (lua_isnoneornil(L, index)) return;
  if (!lua_istable(L, index)) {
    luaL_error(L, "agent.spawn: options must be a table {budget=, timeout=, max_steps=}");
  }
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    lua_pop(L, 1);
    const std::string_view key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    if (key != "budget" && key != "timeout" && key != "max_steps") {
      luaL_error(L, "agent.spawn: unknown option; the options are budget, timeout, max_steps");
    }
  }
  const double budget = number_field(L, index, "budget", -1);
  if (budget >= 0) request.budget_nanos = static_cast<std::int64_t>(std::floor(budget * 1e9));
  const double timeout = number_field(L, index, "timeout", 0);
  request.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout * 1000));
  request.max_steps = static_cast<std::uint64_t>(number_field(L, index, "max_steps", 0));
}

// Pushes child:await()'s results for `result`, or raises its error.
int finish_await(lua_State* L, PlanContext& context, const std::string& name,
                 const Result<SpawnResult>& result) {
  context.sandbox->check(L);  // the run may have been cancelled or run out of time meanwhile
  if (!result) {
    Error error = result.error();
    error.message = "agent.spawn(\"" + name + "\"): " + error.message;
    raise_error_table(L, error);
  }
  JsonLimits limits;
  limits.max_depth = context.limits.json_max_depth;
  limits.max_bytes = context.limits.memory_limit_bytes;
  json_codec::decode(L, result.value().json, limits);
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, result.value().run_id.data(), result.value().run_id.size());
  lua_setfield(L, -2, "run_id");
  push_usd(L, result.value().cost_nanos);
  lua_setfield(L, -2, "cost");
  lua_pushinteger(L, result.value().cost_nanos);
  lua_setfield(L, -2, "cost_nanos");
  return 2;
}

// The handle's name (stack index 1), for error messages.
std::string handle_name(lua_State* L) {
  lua_getfield(L, 1, "name");
  std::string name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
  lua_pop(L, 1);
  return name;
}

int child_await_continue(lua_State* L, int, lua_KContext) {
  PlanContext& context = context_of(L);
  if (!context.child_answer) {
    return luaL_error(L, "child:await(): resumed without an answer (a perdiem bug)");
  }
  const Result<SpawnResult> result = std::move(*context.child_answer);
  context.child_answer.reset();
  return finish_await(L, context, handle_name(L), result);
}

// child:await(): the sub-agent's value and {run_id=, cost=, cost_nanos=}, or its error.
// Yields to the plan's driver, which waits without holding the plan's thread (from a
// coroutine the plan runs too: resume passes the wait up, coroutine_binding.cpp; and
// from a parallel branch, which parallel parks). Inside a C callback it cannot, and it
// is refused rather than answered in place: sub-agents are agents on the scheduler, so in
// a background run the wait would hold the event-loop thread its sub-agent may need,
// and neither would finish. Refused in every run, so a plan behaves the same however
// the app runs it.
int child_await(lua_State* L) {
  PlanContext& context = context_of(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "run_id");
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "child:await(): call it on a spawn's handle");
  std::string run_id = lua_tostring(L, -1);
  lua_settop(L, 1);
  refuse_inside_on_delta(L, context, "child:await");
  if (L != context.plan_thread || !lua_isyieldable(L)) {
    raise_error_table(L, make_error(ErrorKind::script,
                                    "child:await() waits only in the plan's body, a coroutine "
                                    "it runs or a parallel() branch, not inside a callback "
                                    "such as a table.sort comparator: await it after the "
                                    "callback returns"));
  }
  context.pending_child = std::move(run_id);
  context.child_answer.reset();
  return lua_yieldk(L, 0, 0, child_await_continue);
}

// agent.spawn(name, args, options) -> {run_id=, name=, await=}: started, not awaited.
int agent_spawn(lua_State* L) {
  PlanContext& context = context_of(L);
  std::size_t length = 0;
  const char* name = luaL_checklstring(L, 1, &length);
  refuse_inside_on_delta(L, context, "agent.spawn");
  SpawnRequest request;
  request.path = resolve_script(L, context, std::string(name, length)).string();
  request.args = read_args(L, 2);
  read_options(L, 3, request);
  if (!context.host->spawn || !context.host->await_spawn) {
    raise_error_table(L, make_error(ErrorKind::config, "this host cannot spawn sub-agents"));
  }
  Result<std::string> started = [&]() -> Result<std::string> {
    try {
      return context.host->spawn(request);
    } catch (const std::exception& e) {
      return make_error(ErrorKind::internal, std::string("agent.spawn failed: ") + e.what());
    }
  }();
  if (!started) {
    Error error = started.error();
    error.message = "agent.spawn(\"" + std::string(name, length) + "\"): " + error.message;
    raise_error_table(L, error);
  }
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, started->data(), started->size());
  lua_setfield(L, -2, "run_id");
  lua_pushlstring(L, name, length);
  lua_setfield(L, -2, "name");
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, child_await, 1);
  lua_setfield(L, -2, "await");
  return 1;
}

}  // namespace

Result<SpawnResult> ask_host_child(PlanHost& host, const std::string& run_id) {
  return call_host<SpawnResult>(host.await_spawn, run_id, "child:await");
}

void add_agent_spawn(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, agent_spawn, 1);
  lua_setfield(L, -2, "spawn");
}

}  // namespace perdiem::lua
