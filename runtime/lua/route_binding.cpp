// model.chat's route= table (which providers may serve the call, and how to choose),
// and the `providers` module (providers.list()).
#include <cmath>
#include <string>
#include <vector>

#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

constexpr const char* kRouteFields =
    "prefer, max_price, privacy, providers, exclude and fallback";

int raw(lua_State* L, int table, const char* key) {
  lua_pushstring(L, key);
  return lua_rawget(L, table);
}

std::vector<std::string> read_names(lua_State* L, int list, const char* field) {
  std::vector<std::string> names;
  if (lua_type(L, list) == LUA_TSTRING) {
    names.emplace_back(lua_tostring(L, list));
    return names;
  }
  if (lua_type(L, list) != LUA_TTABLE) {
    luaL_error(L, "model.chat: route.%s must be a provider name or a list of them", field);
  }
  const lua_Integer count = static_cast<lua_Integer>(lua_rawlen(L, list));
  if (count > 256) luaL_error(L, "model.chat: route.%s lists more than 256 providers", field);
  for (lua_Integer i = 1; i <= count; ++i) {
    if (lua_rawgeti(L, list, i) != LUA_TSTRING) {
      luaL_error(L, "model.chat: route.%s must hold provider names (strings)", field);
    }
    names.emplace_back(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return names;
}

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

void push_names(lua_State* L, const std::vector<std::string>& names) {
  lua_createtable(L, static_cast<int>(names.size()), 0);
  for (std::size_t i = 0; i < names.size(); ++i) {
    lua_pushlstring(L, names[i].data(), names[i].size());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
}

void push_status(lua_State* L, const ProviderStatus& status) {
  lua_createtable(L, 0, 12);
  set_string(L, "name", status.name);
  set_string(L, "base_url", status.base_url);
  set_string(L, "api", status.api);
  lua_pushboolean(L, status.local);
  lua_setfield(L, -2, "local");
  push_names(L, status.privacy);
  lua_setfield(L, -2, "privacy");
  lua_pushboolean(L, status.tools);
  lua_setfield(L, -2, "tools");
  lua_pushboolean(L, status.available);
  lua_setfield(L, -2, "available");
  if (!status.available) set_string(L, "unavailable", status.unavailable);
  push_names(L, status.routes);
  lua_setfield(L, -2, "models");
  set_string(L, "breaker", status.breaker);
  lua_pushnumber(L, status.success_permille / 1000.0);
  lua_setfield(L, -2, "success_rate");
  if (status.latency_ms) {
    lua_pushinteger(L, *status.latency_ms);
    lua_setfield(L, -2, "latency_ms");
  }
}

int providers_list(lua_State* L) {
  auto& context = *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
  std::vector<ProviderStatus> statuses;
  if (context.host->list_providers) statuses = context.host->list_providers();
  lua_createtable(L, static_cast<int>(statuses.size()), 0);
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    push_status(L, statuses[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

}  // namespace

void read_route_preferences(lua_State* L, int table, providers::ChatRequest& request) {
  if (raw(L, table, "route") == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  const int route = lua_gettop(L);
  if (!lua_istable(L, route)) luaL_error(L, "model.chat: route must be a table");
  lua_pushnil(L);
  while (lua_next(L, route) != 0) {
    lua_pop(L, 1);
    const char* key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    const std::string_view name = key;
    if (name != "prefer" && name != "max_price" && name != "privacy" && name != "providers" &&
        name != "exclude" && name != "fallback") {
      luaL_error(L, "model.chat: route has an unknown field '%s'; the fields are %s", key,
                 kRouteFields);
    }
  }
  providers::RoutePreferences wanted;
  if (raw(L, route, "prefer") != LUA_TNIL) {
    const char* prefer = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    const std::string_view value = prefer;
    if (value != "price" && value != "latency" && value != "reliability") {
      luaL_error(L, "model.chat: route.prefer must be \"price\", \"latency\" or \"reliability\"");
    }
    wanted.prefer = value;
  }
  lua_pop(L, 1);
  if (raw(L, route, "max_price") != LUA_TNIL) {
    const double usd = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : -1.0;
    if (!std::isfinite(usd) || usd < 0 || usd > 1e6) {
      luaL_error(L, "model.chat: route.max_price must be a number of USD, 0 or more");
    }
    wanted.max_price_nanos = static_cast<std::int64_t>(std::floor(usd * 1e9));
  }
  lua_pop(L, 1);
  if (raw(L, route, "privacy") != LUA_TNIL) {
    const char* privacy = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    const std::string_view value = privacy;
    if (value != "local" && value != "no-log" && value != "tee") {
      luaL_error(L, "model.chat: route.privacy must be \"local\", \"no-log\" or \"tee\"");
    }
    wanted.privacy = value;
  }
  lua_pop(L, 1);
  if (raw(L, route, "providers") != LUA_TNIL) {
    wanted.providers = read_names(L, lua_gettop(L), "providers");
  }
  lua_pop(L, 1);
  if (raw(L, route, "exclude") != LUA_TNIL) {
    wanted.exclude = read_names(L, lua_gettop(L), "exclude");
  }
  lua_pop(L, 1);
  if (raw(L, route, "fallback") != LUA_TNIL) {
    if (!lua_isboolean(L, -1)) luaL_error(L, "model.chat: route.fallback must be true or false");
    wanted.fallback = lua_toboolean(L, -1) != 0;
  }
  lua_pop(L, 1);
  lua_pop(L, 1);  // the route table
  request.route = std::move(wanted);
}

void push_providers_module(lua_State* L, PlanContext& context) {
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, providers_list, 1);
  lua_setfield(L, -2, "list");
}

}  // namespace perdiem::lua
