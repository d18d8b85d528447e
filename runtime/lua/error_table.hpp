// Errors as Lua values: the table a script catches with pcall.
//
// An error table is {kind="rate_limited", message="...", source="...", retryable=true}
// sharing one protected metatable whose __tostring gives "kind: message". The metatable
// is what tells the host "this error came from perdiem", so scripts cannot obtain it
// (getmetatable returns false) and cannot forge one; re-raising a caught table keeps it.
#pragma once

#include <optional>

#include <lua.hpp>

#include "perdiem/error.hpp"

namespace perdiem::lua {

// Creates the shared metatable. Call once per state, from protected code.
void install_error_metatable(lua_State* L);

// Pushes a new error table for `error` (source is omitted when empty).
void push_error_table(lua_State* L, const Error& error);

// Pushes an error table and raises it. Never returns.
[[noreturn]] void raise_error_table(lua_State* L, const Error& error);

// The Error carried by the value at `index` if it is an error table made by
// push_error_table; nullopt for anything else. A kind the script overwrote with an
// unknown name reads as `script`. May raise (memory): call from protected code.
std::optional<Error> read_error_table(lua_State* L, int index);

// The kind whose to_string() is `name`, if any.
std::optional<ErrorKind> error_kind_from_name(std::string_view name);

}  // namespace perdiem::lua
