// xpcall, coroutine.wrap and coroutine.close, guarded against script code that would
// run with hooks off once a limit is hit. Arguments, results and messages follow
// lbaselib.c and lcorolib.c.
//
// Why: Lua turns hooks off while a hook runs and while it calls xpcall's message
// handler for an error the hook raised; and a coroutine that dies from such an error
// keeps its hooks off, so closing it (coroutine.close, or coroutine.wrap after the
// error) would run its __close handlers unwatched. A loop in either would hang the host.
#include "runtime/lua/safe_libs.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

// The script's handler, skipped once the sandbox has stopped (the error passes through
// untouched). Upvalue 1: the script's handler.
int guarded_message_handler(lua_State* L) {
  if (Sandbox::of(L).stopped()) return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

int finish_xpcall(lua_State* L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;  // false, the error
  }
  return lua_gettop(L) - static_cast<int>(extra);  // true and the results
}

// xpcall(f, handler, ...)
int safe_xpcall(lua_State* L) {
  const int n = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, guarded_message_handler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);  // the first result
  lua_pushvalue(L, 1);    // the function
  lua_rotate(L, 3, 2);    // both below the function's arguments
  const int status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_xpcall);
  return finish_xpcall(L, status, 2);
}

// Closes a dead or suspended coroutine's to-be-closed variables, unless the sandbox has
// stopped: then the coroutine is left for the collector, its __close handlers unrun.
int close_thread(lua_State* L, lua_State* co) {
  Sandbox& sandbox = Sandbox::of(L);
  if (sandbox.stopped()) sandbox.check(L);  // raises the limit error
  return lua_resetthread(co);
}

// Resumes co with the top narg values; returns the number of results moved to L, or -1
// with the error on top.
int resume(lua_State* L, lua_State* co, int narg) {
  if (!lua_checkstack(co, narg)) {
    lua_pushliteral(L, "too many arguments to resume");
    return -1;
  }
  lua_xmove(L, co, narg);
  int results = 0;
  const int status = lua_resume(co, L, narg, &results);
  if (status == LUA_OK || status == LUA_YIELD) {
    if (!lua_checkstack(L, results + 1)) {
      lua_pop(co, results);
      lua_pushliteral(L, "too many results to resume");
      return -1;
    }
    lua_xmove(co, L, results);
    return results;
  }
  lua_xmove(co, L, 1);  // the error
  return -1;
}

// The function coroutine.wrap returns. Upvalue 1: the coroutine.
int wrapped_resume(lua_State* L) {
  lua_State* co = lua_tothread(L, lua_upvalueindex(1));
  const int results = resume(L, co, lua_gettop(L));
  if (results >= 0) return results;
  int status = lua_status(co);
  if (status != LUA_OK && status != LUA_YIELD) {  // the coroutine died: close it
    status = close_thread(L, co);
    lua_xmove(co, L, 1);
  }
  if (status != LUA_ERRMEM && lua_type(L, -1) == LUA_TSTRING) {  // add where it was called
    luaL_where(L, 1);
    lua_insert(L, -2);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

int safe_wrap(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_State* co = lua_newthread(L);
  lua_pushvalue(L, 1);
  lua_xmove(L, co, 1);
  lua_pushcclosure(L, wrapped_resume, 1);
  return 1;
}

// coroutine.close(co): only a dead or suspended coroutine can be closed.
int safe_close(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTHREAD);
  lua_State* co = lua_tothread(L, 1);
  const char* state = nullptr;
  if (L == co) {
    state = "running";
  } else if (lua_status(co) == LUA_OK) {
    lua_Debug frame;
    if (lua_getstack(co, 0, &frame)) state = "normal";  // it resumed another coroutine
  }
  if (state != nullptr) return luaL_error(L, "cannot close a %s coroutine", state);
  const int status = close_thread(L, co);
  if (status == LUA_OK) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushboolean(L, 0);
  lua_xmove(co, L, 1);  // the error
  return 2;
}

}  // namespace

void install_safe_base(lua_State* L) {
  lua_pushcfunction(L, safe_xpcall);
  lua_setglobal(L, "xpcall");
}

void patch_safe_coroutine(lua_State* L) {
  const luaL_Reg functions[] = {{"wrap", safe_wrap}, {"close", safe_close}, {nullptr, nullptr}};
  luaL_setfuncs(L, functions, 0);
  // A plan's resume and wrap pass its waits up to its driver (coroutine_binding.cpp).
  Sandbox::of(L).patch_coroutine_library(L);
}

}  // namespace perdiem::lua
