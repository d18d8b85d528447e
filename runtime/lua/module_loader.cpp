// require(name): Lua modules from the plan's own directory and the plan library.
//
// A name is dotted words ("perdiem.react"), never a path, so it cannot climb out of the
// directories the host named; a symbolic link that leads out of them is ignored too.
// Modules are loaded as text into the plan's own environment, run once, and their
// result cached per state (package.loaded is not reachable: `package` is forbidden).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>

#include "runtime/lua/chunk_cache.hpp"
#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

namespace fs = std::filesystem;

const char kLoadedKey = 0;    // registry slot: the table of loaded modules
const char kLoadingMark = 0;  // loaded[name] while the module's chunk runs
constexpr std::size_t kMaxNameLength = 200;

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

}  // namespace

bool valid_module_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  bool at_word_start = true;
  for (const char c : name) {
    if (c == '.') {
      if (at_word_start) return false;
      at_word_start = true;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') {
      at_word_start = false;
    } else {
      return false;
    }
  }
  return !at_word_start;
}

fs::path find_module(const PlanHost& host, const std::string& relative) {
  std::vector<std::string> roots;
  if (!host.script_directory.empty()) roots.push_back(host.script_directory);
  roots.insert(roots.end(), host.module_paths.begin(), host.module_paths.end());
  for (const std::string& root : roots) {
    std::error_code error;
    const fs::path base = fs::canonical(root, error);
    if (error) continue;
    const fs::path file = fs::canonical(base / relative, error);
    if (error || !fs::is_regular_file(file, error)) continue;
    // canonical() followed any links: the file must still be under the root.
    if (std::mismatch(base.begin(), base.end(), file.begin(), file.end()).first != base.end()) {
      continue;
    }
    return file;
  }
  return {};
}

namespace {

// Pushes the table of loaded modules, creating it on first use.
void push_loaded_table(lua_State* L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kLoadedKey) == LUA_TTABLE) return;
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kLoadedKey);
}

// Stack: 1 name, 2 loaded table, 3 the chunk's result or its error.
int finish_require(lua_State* L, int status, lua_KContext) {
  if (status != LUA_OK && status != LUA_YIELD) {
    lua_pushvalue(L, 1);  // forget the half-loaded module, so a later require retries
    lua_pushnil(L);
    lua_rawset(L, 2);
    return lua_error(L);
  }
  if (lua_isnil(L, 3)) {  // a module that returns nothing loads as true, as in Lua
    lua_pushboolean(L, 1);
    lua_replace(L, 3);
  }
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 3);
  lua_rawset(L, 2);
  lua_settop(L, 3);
  return 1;
}

int plan_require(lua_State* L) {
  PlanContext& context = context_of(L);
  std::size_t length = 0;
  const char* raw_name = luaL_checklstring(L, 1, &length);
  const std::string name(raw_name, length);
  lua_settop(L, 1);
  if (!valid_module_name(name)) {
    raise_error_table(
        L, make_error(ErrorKind::sandbox,
                      "require(\"" + name.substr(0, kMaxNameLength) +
                          "\"): a module name is words of letters, digits and '_' joined by "
                          "dots, as in \"perdiem.react\"; paths are not available in the "
                          "perdiem sandbox",
                      where(L, 1)));
  }
  push_loaded_table(L);  // 2
  lua_pushvalue(L, 1);
  const int cached = lua_rawget(L, 2);
  if (cached == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == &kLoadingMark) {
    return luaL_error(L, "require: module '%s' was required again while loading (a cycle)",
                      name.c_str());
  }
  if (cached != LUA_TNIL) return 1;
  lua_pop(L, 1);

  std::string relative = name;
  std::replace(relative.begin(), relative.end(), '.', '/');
  relative += ".lua";
  const fs::path file = find_module(*context.host, relative);
  if (file.empty()) {
    const bool nowhere =
        context.host->script_directory.empty() && context.host->module_paths.empty();
    raise_error_table(L,
                      make_error(ErrorKind::not_found,
                                 "module '" + name + "' not found" +
                                     (nowhere ? ": this host gives plans no module directories"
                                              : " in the script's directory or the plan library"),
                                 where(L, 1)));
  }
  std::error_code error;
  const std::uintmax_t size = fs::file_size(file, error);
  if (!error && size > context.limits.memory_limit_bytes) {
    raise_error_table(
        L, make_error(ErrorKind::limit,
                      "module '" + name + "' is larger than the plan's memory limit", where(L, 1)));
  }
  std::ifstream in(file, std::ios::binary);
  std::string source;
  if (in) source.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) {
    raise_error_table(
        L, make_error(ErrorKind::storage, "cannot read module '" + name + "'", where(L, 1)));
  }
  const std::string chunk_name = "@" + relative;  // tracebacks say "perdiem/react.lua:12:"
  if (load_text_chunk(L, source, chunk_name.c_str()) != LUA_OK) {
    return lua_error(L);  // the compiler's message, with the module's file and line
  }
  lua_pushvalue(L, 1);
  lua_pushlightuserdata(L, const_cast<char*>(&kLoadingMark));
  lua_rawset(L, 2);
  lua_pushvalue(L, 1);  // the module's chunk gets its name, as in Lua
  return finish_require(L, lua_pcallk(L, 1, 1, 0, 0, finish_require), 0);
}

}  // namespace

void push_require(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, plan_require, 1);
}

}  // namespace perdiem::lua
