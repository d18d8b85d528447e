// The `json` module scripts see, and the host's Lua -> JSON helpers.
#include "runtime/lua/json_bridge.hpp"

#include <nlohmann/json.hpp>

#include "runtime/lua/json_codec.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

// Addresses used as identities: json.null's value and the registry key of the array
// marker. Light userdata compare by address, so one static serves every state.
const char kNullTag = 0;
const char kArrayMarkerKey = 0;

// Upvalues of encode/decode: 1 = max_depth, 2 = max_bytes.
JsonLimits limits_from_upvalues(lua_State* L) {
  JsonLimits limits;
  limits.max_depth = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(1)));
  limits.max_bytes = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(2)));
  return limits;
}

int json_encode(lua_State* L) {
  luaL_checkany(L, 1);
  std::string text;
  json_codec::encode(L, 1, limits_from_upvalues(L), InvalidUtf8::refuse, "json.encode: ", text);
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

int json_decode(lua_State* L) {
  std::size_t length = 0;
  const char* text = luaL_checklstring(L, 1, &length);
  json_codec::decode(L, {text, length}, limits_from_upvalues(L));
  return 1;
}

// json.array(t) marks t (or a new table) as an array, so an empty one encodes as [].
// It replaces any metatable t had.
int json_array(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  json_codec::mark_array(L, 1);
  return 1;
}

}  // namespace

void json_codec::mark_array(lua_State* L, int index) {
  index = lua_absindex(L, index);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMarkerKey);
  lua_setmetatable(L, index);
}

bool json_codec::is_marked_array(lua_State* L, int index) {
  if (!lua_getmetatable(L, index)) return false;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kArrayMarkerKey);
  const bool marked = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return marked;
}

void push_json_null(lua_State* L) {
  lua_pushlightuserdata(L, const_cast<char*>(&kNullTag));
}

bool is_json_null(lua_State* L, int index) {
  return lua_type(L, index) == LUA_TLIGHTUSERDATA && lua_touserdata(L, index) == &kNullTag;
}

void push_json_module(lua_State* L, const JsonLimits& limits) {
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "json.array");  // tostring(json.array{}) says what it is
  lua_setfield(L, -2, "__name");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kArrayMarkerKey);

  lua_createtable(L, 0, 4);
  const luaL_Reg functions[] = {{"encode", json_encode}, {"decode", json_decode}};
  for (const luaL_Reg& function : functions) {
    lua_pushinteger(L, static_cast<lua_Integer>(limits.max_depth));
    lua_pushinteger(L, static_cast<lua_Integer>(limits.max_bytes));
    lua_pushcclosure(L, function.func, 2);
    lua_setfield(L, -2, function.name);
  }
  lua_pushcfunction(L, json_array);
  lua_setfield(L, -2, "array");
  push_json_null(L);
  lua_setfield(L, -2, "null");
}

Result<std::string> encode_json(lua_State* L, int index, const JsonLimits& limits,
                                InvalidUtf8 invalid_utf8) {
  std::string text;
  lua_pushvalue(L, index);
  const Status status = run_protected(L, 1, [&](lua_State* inner) {
    json_codec::encode(inner, 1, limits, invalid_utf8, "", text);
  });
  if (!status.ok()) return status.error();
  return text;
}

Result<nlohmann::json> to_json(lua_State* L, int index, const JsonLimits& limits) {
  Result<std::string> text = encode_json(L, index, limits);
  if (!text.ok()) return text.error();
  nlohmann::json document = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    return make_error(ErrorKind::internal, "the JSON encoder produced text its parser refuses");
  }
  return document;
}

}  // namespace perdiem::lua
