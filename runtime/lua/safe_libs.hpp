// Replacements for the stock library functions that can run long inside one C call,
// where the instruction hook never fires. Each keeps stock Lua's arguments, results and
// error messages; what changes is that its work counts toward the sandbox's limits
// (Sandbox::charge) and that results larger than the heap are refused up front.
// Internal to runtime/lua: Sandbox::create installs them, or their library's loader.
#pragma once

#include <lua.hpp>

namespace perdiem::lua {

// xpcall, coroutine.wrap and coroutine.close, which stock Lua lets run script code
// with hooks off after a limit error raised by the instruction hook: xpcall's handler
// (run inside the hook), and the __close handlers of a coroutine the hook's error killed
// (its hooks stay off). Once the sandbox has stopped, these skip that code.
// install_safe_base() sets xpcall; patch_safe_coroutine() replaces wrap and close in the
// coroutine table on top of the stack (built on first use), then lets the sandbox's
// coroutine patch (Sandbox::set_coroutine_patch) build on it. May raise.
void install_safe_base(lua_State* L);
void patch_safe_coroutine(lua_State* L);

// string.find, string.match, string.gmatch and string.gsub on the metered matcher
// (pattern.hpp); string.rep without stock Lua's endless loop on empty pieces. Replaces
// them in the `string` table, which every string's __index reaches. May raise.
void install_safe_string(lua_State* L);

// table.insert, table.remove and table.move, whose element loops a __len metamethod
// can stretch to 2^63 steps, and table.concat, which checks the result's size before
// building it. Replaced in the table library on top of the stack (built on first use).
// May raise.
void patch_safe_table(lua_State* L);

}  // namespace perdiem::lua
