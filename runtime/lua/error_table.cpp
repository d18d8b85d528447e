#include "runtime/lua/error_table.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

namespace perdiem::lua {
namespace {

constexpr const char* kMetatableName = "perdiem.error";

int error_tostring(lua_State* L) {
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  const char* kind = lua_tostring(L, -2);
  const char* message = lua_tostring(L, -1);
  lua_pushfstring(L, "%s: %s", kind ? kind : "error", message ? message : "");
  return 1;
}

std::string raw_string_field(lua_State* L, int table, const char* key) {
  lua_pushstring(L, key);
  lua_rawget(L, table);
  std::string value;
  if (lua_type(L, -1) == LUA_TSTRING) {
    std::size_t length = 0;
    const char* data = lua_tolstring(L, -1, &length);
    value.assign(data, length);
  }
  lua_pop(L, 1);
  return value;
}

std::optional<std::int64_t> raw_integer_field(lua_State* L, int table, const char* key) {
  lua_pushstring(L, key);
  lua_rawget(L, table);
  int is_integer = 0;
  const lua_Integer value = lua_tointegerx(L, -1, &is_integer);
  const bool integer = lua_type(L, -1) == LUA_TNUMBER && is_integer;
  lua_pop(L, 1);
  if (!integer) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

}  // namespace

std::optional<ErrorKind> error_kind_from_name(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(ErrorKind::internal); ++k) {
    auto kind = static_cast<ErrorKind>(k);
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

void install_error_metatable(lua_State* L) {
  luaL_newmetatable(L, kMetatableName);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  // getmetatable(err) returns false: without the metatable no script can forge an error
  // the host would trust.
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

void push_error_table(lua_State* L, const Error& error) {
  lua_createtable(L, 0, 4);
  const std::string_view kind = to_string(error.kind);
  lua_pushlstring(L, kind.data(), kind.size());
  lua_setfield(L, -2, "kind");
  lua_pushlstring(L, error.message.data(), error.message.size());
  lua_setfield(L, -2, "message");
  if (!error.source.empty()) {
    lua_pushlstring(L, error.source.data(), error.source.size());
    lua_setfield(L, -2, "source");
  }
  lua_pushboolean(L, error.retryable);
  lua_setfield(L, -2, "retryable");
  // A refusal for money: its amounts in USD, as a reply's cost, and exact in nano-USD.
  const auto set_amount = [L](const char* usd_key, const char* nanos_key,
                              const std::optional<std::int64_t>& nanos) {
    if (!nanos) return;
    lua_pushnumber(L, static_cast<lua_Number>(*nanos) / 1e9);
    lua_setfield(L, -2, usd_key);
    lua_pushinteger(L, *nanos);
    lua_setfield(L, -2, nanos_key);
  };
  set_amount("needed", "needed_nanos", error.needed_nanos);
  set_amount("available", "available_nanos", error.available_nanos);
  luaL_setmetatable(L, kMetatableName);
}

void raise_error_table(lua_State* L, const Error& error) {
  push_error_table(L, error);
  lua_error(L);
  std::abort();  // unreachable: lua_error unwinds (a C++ exception in this build)
}

std::optional<Error> read_error_table(lua_State* L, int index) {
  index = lua_absindex(L, index);
  if (lua_type(L, index) != LUA_TTABLE || !lua_getmetatable(L, index)) return std::nullopt;
  luaL_getmetatable(L, kMetatableName);
  const bool ours = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  if (!ours) return std::nullopt;

  Error error;
  error.kind = error_kind_from_name(raw_string_field(L, index, "kind")).value_or(ErrorKind::script);
  error.message = raw_string_field(L, index, "message");
  error.source = raw_string_field(L, index, "source");
  lua_pushstring(L, "retryable");
  lua_rawget(L, index);
  error.retryable = lua_toboolean(L, -1);
  lua_pop(L, 1);
  error.needed_nanos = raw_integer_field(L, index, "needed_nanos");
  error.available_nanos = raw_integer_field(L, index, "available_nanos");
  return error;
}

}  // namespace perdiem::lua
