#include "runtime/lua/sandbox.hpp"

#ifndef PERDIEM_LUA_HEAP_MALLOC
#include <mimalloc.h>
#endif

#include <cstdlib>
#include <exception>
#include <new>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/safe_libs.hpp"

namespace perdiem::lua {
namespace {

// Names stock Lua has and the sandbox does not. Reaching for one raises instead of
// returning nil, so the author reads why rather than "attempt to call a nil value".
constexpr const char* kForbiddenGlobals[] = {"io",      "debug",  "package",
                                             "require", "dofile", "loadfile"};
constexpr const char* kForbiddenOs[] = {"execute", "exit",    "remove",   "rename",
                                        "getenv",  "tmpname", "setlocale"};
constexpr const char* kForbiddenString[] = {"dump"};
constexpr const char* kSafeOs[] = {"time", "clock", "date", "difftime"};

std::string describe_bytes(std::size_t bytes) {
  constexpr std::size_t kKiB = 1024, kMiB = kKiB * 1024;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + " bytes";
}

// Where add_lazy_global() keeps the loaders of globals not built yet (registry key).
const char kLazyGlobals = 0;

// __index of a guarded table. Upvalue 1: the prefix naming the table ("os."), upvalue 2:
// the set of forbidden names; for the globals, upvalue 3: the loaders of lazy globals.
int guard_index(lua_State* L) {
  if (lua_type(L, 2) == LUA_TSTRING && lua_type(L, lua_upvalueindex(3)) == LUA_TTABLE) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(3)) == LUA_TFUNCTION) {
      lua_call(L, 0, 1);  // built now, once: the global is then a plain field
      lua_pushvalue(L, 2);
      lua_pushvalue(L, -2);
      lua_rawset(L, 1);
      lua_pushvalue(L, 2);
      lua_pushnil(L);
      lua_rawset(L, lua_upvalueindex(3));
      return 1;
    }
    lua_pop(L, 1);
  }
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) {
      std::string what = lua_tostring(L, lua_upvalueindex(1));
      what += lua_tostring(L, 2);
      raise_sandbox_violation(L, what);
    }
  }
  return 0;  // any other missing name is nil, as in stock Lua
}

// __newindex of the globals: a global assigned before its first use is the script's, not
// the lazy one (as if the lazy one had been there and been replaced). Upvalue 1: the
// loaders of lazy globals.
int globals_newindex(lua_State* L) {
  lua_pushvalue(L, 2);
  lua_pushnil(L);
  lua_rawset(L, lua_upvalueindex(1));
  lua_rawset(L, 1);
  return 0;
}

template <std::size_t N>
void guard_table(lua_State* L, int table, const char* prefix, const char* const (&names)[N],
                 bool lazy_globals = false) {
  table = lua_absindex(L, table);
  for (const char* name : names) {  // the guard only fires for names absent from the table
    lua_pushnil(L);
    lua_setfield(L, table, name);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, prefix);
  lua_createtable(L, 0, static_cast<int>(N));
  for (const char* name : names) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, name);
  }
  if (lazy_globals) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyGlobals);
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, globals_newindex, 1);
    lua_setfield(L, -5, "__newindex");
  }
  lua_pushcclosure(L, guard_index, lazy_globals ? 3 : 2);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);  // protected: setmetatable cannot strip the guard
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, table);
}

// load, but text only: a binary chunk can break the VM's invariants. Upvalue 1: the
// stock load.
int safe_load(lua_State* L) {
  std::size_t length = 0;
  const char* chunk = lua_type(L, 1) == LUA_TSTRING ? lua_tolstring(L, 1, &length) : nullptr;
  if (chunk != nullptr && length > 0 && chunk[0] == LUA_SIGNATURE[0]) {
    raise_sandbox_violation(L, "load of a binary chunk");
  }
  // load(chunk, chunkname, mode, env): keep env only if given (load tells absent from nil).
  if (lua_gettop(L) > 4) lua_settop(L, 4);
  if (lua_gettop(L) < 3) lua_settop(L, 3);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// collectgarbage("count") only: the other options let a script stall the collector or
// force full collections over and over.
int safe_collectgarbage(lua_State* L) {
  const std::string_view option = luaL_optstring(L, 1, "collect");
  if (option != "count") {
    raise_sandbox_violation(L, "collectgarbage(\"" + std::string(option) + "\")");
  }
  const int kilobytes = lua_gc(L, LUA_GCCOUNT);
  const int remainder = lua_gc(L, LUA_GCCOUNTB);
  lua_pushnumber(L, kilobytes + remainder / 1024.0);
  return 1;
}

// setmetatable as stock Lua has it, but refusing a metatable with a __gc field: Lua runs
// finalizers with hooks off, so no limit could stop one that loops. Lua marks an object
// for finalization only when its metatable has __gc as it is set, so checking here is
// enough.
int safe_setmetatable(lua_State* L) {
  const int type = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, type == LUA_TNIL || type == LUA_TTABLE, 2, "nil or table");
  if (type == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) raise_sandbox_violation(L, "a __gc metamethod");
    lua_pop(L, 1);
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) {
    return luaL_error(L, "cannot change a protected metatable");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// os: the four harmless functions copied out of the stock library, which is dropped.
int open_safe_os(lua_State* L) {
  luaopen_os(L);
  lua_createtable(L, 0, 4);
  for (const char* name : kSafeOs) {
    lua_getfield(L, -2, name);
    lua_setfield(L, -2, name);
  }
  guard_table(L, -1, "os.", kForbiddenOs);
  return 1;
}

int open_safe_coroutine(lua_State* L) {
  luaopen_coroutine(L);
  patch_safe_coroutine(L);
  return 1;
}

int open_safe_table(lua_State* L) {
  luaopen_table(L);
  patch_safe_table(L);
  return 1;
}

// A standard library built on first use (add_lazy_global), registered as luaL_requiref
// does: error messages name its functions ("bad argument #1 to 'coroutine.close'").
template <const char* kName, lua_CFunction open>
int load_library(lua_State* L) {
  open(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, kName);
  lua_pop(L, 1);
  return 1;
}

constexpr char kCoroutine[] = LUA_COLIBNAME, kTable[] = LUA_TABLIBNAME, kMath[] = LUA_MATHLIBNAME,
               kUtf8[] = LUA_UTF8LIBNAME, kOs[] = LUA_OSLIBNAME;

void open_libraries(lua_State* L) {
  // Eager: the base functions, and string, which every string's metatable points at.
  for (const luaL_Reg& library :
       {luaL_Reg{LUA_GNAME, luaopen_base}, luaL_Reg{LUA_STRLIBNAME, luaopen_string}}) {
    luaL_requiref(L, library.name, library.func, 1);
    lua_pop(L, 1);
  }
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLazyGlobals);
  add_lazy_global(L, kCoroutine, load_library<kCoroutine, open_safe_coroutine>);
  add_lazy_global(L, kTable, load_library<kTable, open_safe_table>);
  add_lazy_global(L, kMath, load_library<kMath, luaopen_math>);
  add_lazy_global(L, kUtf8, load_library<kUtf8, luaopen_utf8>);
  add_lazy_global(L, kOs, load_library<kOs, open_safe_os>);

  // print writes to the process's stdout; the plan runner rebinds it to its log.
  lua_pushnil(L);
  lua_setglobal(L, "print");
  lua_getglobal(L, "load");
  lua_pushcclosure(L, safe_load, 1);
  lua_setglobal(L, "load");
  lua_pushcfunction(L, safe_collectgarbage);
  lua_setglobal(L, "collectgarbage");
  lua_pushcfunction(L, safe_setmetatable);
  lua_setglobal(L, "setmetatable");
  install_safe_base(L);
  install_safe_string(L);

  lua_getglobal(L, LUA_STRLIBNAME);
  guard_table(L, -1, "string.", kForbiddenString);
  lua_pop(L, 1);
  // Every string shares one metatable, so a script that changed it would change how
  // the host's own string operations behave; getmetatable("") returns false instead.
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1);
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);

  lua_pushglobaltable(L);
  guard_table(L, -1, "", kForbiddenGlobals, /*lazy_globals=*/true);
  lua_pop(L, 1);

  install_error_metatable(L);
}

// Runs the std::function passed as a light userdata. C++ exceptions become Lua errors
// here; Lua's own errors (not std::exception) pass through to lua_pcall.
int protected_trampoline(lua_State* L) {
  const auto* body = static_cast<const std::function<void(lua_State*)>*>(lua_touserdata(L, 1));
  lua_remove(L, 1);
  std::string failure;
  try {
    (*body)(L);
    return 0;
  } catch (const std::bad_alloc&) {
    failure = "out of host memory";
  } catch (const std::exception& e) {
    failure = e.what();
  }
  return luaL_error(L, "%s", failure.c_str());
}

// Lua heaps live on mimalloc: an agent's state is thousands of small blocks, allocated
// together and freed together, and ten thousand agents growing at once cost glibc's
// arenas a syscall per page (agents_bench: 25% less CPU to start an agent). Sanitizer
// builds keep malloc, which AddressSanitizer watches.
#ifdef PERDIEM_LUA_HEAP_MALLOC
void* heap_realloc(void* block, std::size_t size) {
  return std::realloc(block, size);
}
void heap_free(void* block) {
  std::free(block);
}
#else
void* heap_realloc(void* block, std::size_t size) {
  return mi_realloc(block, size);
}
void heap_free(void* block) {
  mi_free(block);
}
#endif

}  // namespace

void* Sandbox::allocate(void* ud, void* ptr, std::size_t old_size, std::size_t new_size) {
  auto* heap = static_cast<Heap*>(ud);
  // When ptr is null, old_size encodes the object's type, not a size.
  const std::size_t old_bytes = ptr != nullptr ? old_size : 0;
  if (new_size == 0) {
    heap_free(ptr);
    heap->used -= old_bytes;
    return nullptr;
  }
  const bool grows = new_size > old_bytes;
  if (grows && new_size - old_bytes > heap->limit - heap->used) {
    // Lua answers a refusal with an emergency collection and the same request again
    // (shrinking and freeing meanwhile, never growing): refused twice, the heap is full.
    const bool repeated = heap->refusal_pending && heap->refused_block == ptr &&
                          heap->refused_old_size == old_size && heap->refused_new_size == new_size;
    heap->refusal_pending = !repeated;
    heap->refused_block = ptr;
    heap->refused_old_size = old_size;
    heap->refused_new_size = new_size;
    if (repeated) {
      heap->exhausted = true;
      if (heap->owner != nullptr) heap->owner->heap_exhausted();
    }
    return nullptr;  // Lua collects garbage, retries, then raises LUA_ERRMEM
  }
  void* block = heap_realloc(ptr, new_size);
  if (block != nullptr) {
    heap->used = heap->used - old_bytes + new_size;
    if (grows) {
      heap->refusal_pending = false;
      if (heap->used > heap->peak) heap->peak = heap->used;
    }
  }
  return block;
}

Result<std::unique_ptr<Sandbox>> Sandbox::create(SandboxLimits limits) {
  std::unique_ptr<Sandbox> sandbox(new Sandbox());
  sandbox->heap_.owner = sandbox.get();
  sandbox->heap_.limit = limits.memory_limit_bytes;
  sandbox->heap_.configured_limit = limits.memory_limit_bytes;
  sandbox->limits_ = std::move(limits);
  sandbox->started_ = sandbox->now();
  sandbox->state_ = lua_newstate(&Sandbox::allocate, &sandbox->heap_);
  if (sandbox->state_ == nullptr) {
    return make_error(ErrorKind::limit, sandbox->memory_limit_message());
  }
  // Threads copy the main thread's extra space: Sandbox::of works on all of them.
  *static_cast<Sandbox**>(lua_getextraspace(sandbox->state_)) = sandbox.get();
  Status opened = run_protected(sandbox->state_, open_libraries);
  if (opened.ok()) {
    opened = run_protected(sandbox->state_, [&](lua_State*) { sandbox->arm(); });
  }
  if (!opened.ok()) {
    if (opened.error().kind == ErrorKind::limit) {
      return make_error(ErrorKind::limit, sandbox->memory_limit_message());
    }
    return make_error(ErrorKind::internal,
                      "cannot open the Lua sandbox: " + opened.error().message);
  }
  return sandbox;
}

Sandbox::~Sandbox() {
  if (state_ != nullptr) lua_close(state_);
}

std::string Sandbox::memory_limit_message() const {
  return "memory limit of " + describe_bytes(heap_.configured_limit) + " reached";
}

void add_lazy_global(lua_State* L, const char* name, lua_CFunction loader, int upvalues) {
  lua_pushcclosure(L, loader, upvalues);
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kLazyGlobals);
  lua_insert(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

void raise_sandbox_violation(lua_State* L, std::string_view what) {
  std::string message(what);
  message += " is not available in the perdiem sandbox";
  raise_error_table(L, make_error(ErrorKind::sandbox, std::move(message), where(L, 1)));
}

std::string where(lua_State* L, int level) {
  lua_Debug frame;
  if (lua_getstack(L, level, &frame) == 0) return {};
  lua_getinfo(L, "Sl", &frame);
  if (frame.currentline <= 0) return {};
  return std::string(frame.short_src) + ":" + std::to_string(frame.currentline);
}

std::string innermost_lua_line(lua_State* L) {
  lua_Debug frame;
  for (int level = 0; lua_getstack(L, level, &frame) != 0; ++level) {
    lua_getinfo(L, "Sl", &frame);
    if (frame.currentline > 0) {
      return std::string(frame.short_src) + ":" + std::to_string(frame.currentline);
    }
  }
  return {};
}

Status run_protected(lua_State* L, int nargs, const std::function<void(lua_State*)>& body) {
  // Pushing a light C function and a light userdata and rotating the stack never
  // allocate, so nothing here can raise outside the protected call.
  lua_pushcfunction(L, protected_trampoline);
  lua_insert(L, -(nargs + 1));
  lua_pushlightuserdata(L, const_cast<std::function<void(lua_State*)>*>(&body));
  lua_insert(L, -(nargs + 1));
  const int status = lua_pcall(L, nargs + 1, 0, 0);
  if (status == LUA_OK) return Status::success();
  std::string message =
      lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object is not a string)";
  lua_pop(L, 1);
  return make_error(status == LUA_ERRMEM ? ErrorKind::limit : ErrorKind::script,
                    std::move(message));
}

}  // namespace perdiem::lua
