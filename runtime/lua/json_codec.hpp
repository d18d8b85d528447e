// Internals of json_bridge: the encoder and decoder behind json.encode/json.decode and
// the host helpers. Only runtime/lua/json_*.cpp include this.
#pragma once

#include <string>
#include <string_view>

#include <lua.hpp>

#include "runtime/lua/json_bridge.hpp"

namespace perdiem::lua::json_codec {

// Appends the JSON text of the value at `index` to `out`. On failure raises a Lua error
// "<error_prefix><why>" (with the calling script's position, when there is one).
void encode(lua_State* L, int index, const JsonLimits& limits, InvalidUtf8 invalid_utf8,
            std::string_view error_prefix, std::string& out);

// Pushes the value `text` denotes. On failure raises "json.decode: <why>".
void decode(lua_State* L, std::string_view text, const JsonLimits& limits);

// The metatable json.array puts on a table: set it on / test it on the table at index.
void mark_array(lua_State* L, int index);
bool is_marked_array(lua_State* L, int index);

}  // namespace perdiem::lua::json_codec
