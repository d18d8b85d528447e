// JSON for scripts (the `json` module) and for the host (Lua value -> JSON text).
//
// Mapping, both directions:
//   JSON null    <-> json.null (a light userdata sentinel; Lua nil cannot sit in a table)
//   true/false   <-> booleans
//   numbers      <-> integers when integral and in int64 range, floats otherwise
//                    (a float encodes with a ".0" so it decodes as a float again)
//   strings      <-> strings, which must be valid UTF-8 when encoded
//   arrays       <-> tables whose keys are exactly 1..n (n > 0), or any table marked by
//                    json.array(t); decoded arrays come back marked
//   objects      <-> other tables; keys must be strings or integers (integers become
//                    "1"), written in sorted order so the same table encodes the same way
// An empty unmarked table is an object, `{}`: json.array{} gives `[]`. A sparse table
// such as {1, nil, 3} is an object {"1":1,"3":3}. Encoding refuses NaN and infinities,
// cycles, functions, threads and userdata, and nesting past JsonLimits::max_depth.
// Encoding reads tables raw (no __index, __pairs or __tostring runs), so a hostile
// metatable cannot run code in the middle of it.
#pragma once

#include <cstddef>
#include <string>

#include <lua.hpp>
#include <nlohmann/json_fwd.hpp>

#include "perdiem/error.hpp"

namespace perdiem::lua {

struct JsonLimits {
  std::size_t max_depth = 200;        // nested arrays and objects, both directions
  std::size_t max_bytes = 64u << 20;  // the longest text an encode may produce
};

// Pushes the `json` table: encode, decode, null, array. May raise (memory).
void push_json_module(lua_State* L, const JsonLimits& limits);

void push_json_null(lua_State* L);
bool is_json_null(lua_State* L, int index);

// How the host's helpers treat a string that is not valid UTF-8.
enum class InvalidUtf8 { refuse, replace };

// Encodes the value at `index` as JSON text. Runs under lua_pcall: a kind `script`
// error names what cannot be encoded, a kind `limit` error means the state ran out of
// memory. With InvalidUtf8::replace, ill-formed bytes become U+FFFD instead of failing.
Result<std::string> encode_json(lua_State* L, int index, const JsonLimits& limits,
                                InvalidUtf8 invalid_utf8 = InvalidUtf8::refuse);

// As encode_json, parsed into a document (for host code that wants to inspect it).
Result<nlohmann::json> to_json(lua_State* L, int index, const JsonLimits& limits);

}  // namespace perdiem::lua
