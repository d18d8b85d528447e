// log, print, json and agent, and where the others come from: the plan's globals.
#include <algorithm>
#include <string>
#include <utility>

#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

// tostring of each argument from `first` on, joined by tabs, as print does. The line is
// cut at log_line_max_bytes: log(s, s, s, ...) with one long string must not make the
// host allocate many times the plan's heap.
std::string join_arguments(lua_State* L, int first, std::size_t max_bytes) {
  std::string line;
  const int top = lua_gettop(L);
  for (int i = first; i <= top; ++i) {
    if (i > first) line += '\t';
    std::size_t length = 0;
    const char* text = luaL_tolstring(L, i, &length);
    const std::size_t room = max_bytes > line.size() ? max_bytes - line.size() : 0;
    line.append(text, std::min(length, room));
    lua_pop(L, 1);
    if (length > room) {
      line += " [truncated]";
      break;
    }
  }
  return line;
}

// Upvalues: 1 = PlanContext*, 2 = the LogLevel as an integer.
int emit(lua_State* L, int first) {
  const auto& context = *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
  const auto level = static_cast<LogLevel>(lua_tointeger(L, lua_upvalueindex(2)));
  const std::string line = join_arguments(L, first, context.limits.log_line_max_bytes);
  if (context.host->log) {
    try {
      context.host->log(level, line);
    } catch (...) {
      // A failing log sink is the host's problem; the plan goes on.
    }
  }
  return 0;
}

int log_at_level(lua_State* L) {
  return emit(L, 1);
}
int log_call(lua_State* L) {
  return emit(L, 2);
}  // __call(log, ...): skip the table

void push_logger(lua_State* L, PlanContext& context, LogLevel level, lua_CFunction function) {
  lua_pushlightuserdata(L, &context);
  lua_pushinteger(L, static_cast<lua_Integer>(level));
  lua_pushcclosure(L, function, 2);
}

// log(...) logs at info; log.info, log.warn and log.error pick the level.
void push_log_module(lua_State* L, PlanContext& context) {
  lua_createtable(L, 0, 3);
  const std::pair<const char*, LogLevel> levels[] = {
      {"info", LogLevel::info}, {"warn", LogLevel::warn}, {"error", LogLevel::error}};
  for (const auto& [name, level] : levels) {
    push_logger(L, context, level, log_at_level);
    lua_setfield(L, -2, name);
  }
  lua_createtable(L, 0, 1);
  push_logger(L, context, LogLevel::info, log_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
}

// A module built on first use (add_lazy_global). Upvalue 1: the PlanContext.
template <void (*push)(lua_State*, PlanContext&)>
int load_module(lua_State* L) {
  push(L, *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1))));
  return 1;
}

void push_json_for_plan(lua_State* L, PlanContext& context) {
  JsonLimits json_limits;
  json_limits.max_depth = context.limits.json_max_depth;
  json_limits.max_bytes = context.limits.memory_limit_bytes;
  push_json_module(L, json_limits);
}

template <void (*push)(lua_State*, PlanContext&)>
void add_lazy_module(lua_State* L, const char* name, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  add_lazy_global(L, name, load_module<push>, 1);
}

}  // namespace

void install_plan_globals(lua_State* L, PlanContext& context,
                          const std::vector<std::string>& args) {
  push_model_module(L, context);  // nearly every plan calls a model
  lua_setglobal(L, "model");
  // The rest is built on first use: most plans touch few of them.
  add_lazy_module<push_wallet_module>(L, "wallet", context);
  add_lazy_module<push_memory_module>(L, "memory", context);
  add_lazy_module<push_providers_module>(L, "providers", context);
  add_lazy_module<push_tool_module>(L, "tool", context);
  add_lazy_module<push_log_module>(L, "log", context);
  add_lazy_module<push_json_for_plan>(L, "json", context);
  add_lazy_module<push_time_module>(L, "time", context);
  push_logger(L, context, LogLevel::info, log_at_level);  // print goes to the log
  lua_setglobal(L, "print");

  lua_createtable(L, 0, 3);
  lua_createtable(L, static_cast<int>(args.size()), 0);
  for (std::size_t i = 0; i < args.size(); ++i) {
    lua_pushlstring(L, args[i].data(), args[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, -2, "args");
  lua_pushlstring(L, context.host->agent_id.data(), context.host->agent_id.size());
  lua_setfield(L, -2, "id");
  lua_pushlstring(L, context.host->run_id.data(), context.host->run_id.size());
  lua_setfield(L, -2, "run_id");
  add_agent_spawn(L, context);
  lua_setglobal(L, "agent");

  push_sleep(L, context);
  lua_setglobal(L, "sleep");
  push_parallel(L, context);
  lua_setglobal(L, "parallel");
  install_plan_coroutine(L, context);
  push_require(L, context);
  lua_setglobal(L, "require");
}

}  // namespace perdiem::lua
