// table.insert/remove/move/concat with their element loops counted as work. Stock Lua
// trusts #t: a __len metamethod answering 2^62 makes table.insert(t, 1, x) shift that
// many (absent) elements in one C call, out of the hook's reach. Argument handling and
// messages follow ltablib.c so scripts see stock Lua.
#include "runtime/lua/safe_libs.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

constexpr int kRead = 1, kWrite = 2, kLength = 4;

// Counts element moves and charges them to the sandbox in blocks.
class WorkCounter {
 public:
  explicit WorkCounter(lua_State* L) : L_(L), sandbox_(Sandbox::of(L)) {}
  void step() {
    if (++pending_ == kBlock) flush();
  }
  void flush() {
    const std::uint64_t work = pending_;
    pending_ = 0;
    sandbox_.charge(L_, work);
  }

 private:
  static constexpr std::uint64_t kBlock = 1024;
  lua_State* L_;
  Sandbox& sandbox_;
  std::uint64_t pending_ = 0;
};

bool has_raw_field(lua_State* L, const char* key, int n) {
  lua_pushstring(L, key);
  return lua_rawget(L, -n) != LUA_TNIL;
}

// `arg` must be a table or have the metamethods `what` needs to act like one.
void check_table(lua_State* L, int arg, int what) {
  if (lua_type(L, arg) == LUA_TTABLE) return;
  int n = 1;  // values to pop: the metatable and the fields tested
  if (lua_getmetatable(L, arg) && (!(what & kRead) || has_raw_field(L, "__index", ++n)) &&
      (!(what & kWrite) || has_raw_field(L, "__newindex", ++n)) &&
      (!(what & kLength) || has_raw_field(L, "__len", ++n))) {
    lua_pop(L, n);
  } else {
    luaL_checktype(L, arg, LUA_TTABLE);  // raises the usual message
  }
}

lua_Integer length_of(lua_State* L, int arg, int what) {
  check_table(L, arg, what | kLength);
  return luaL_len(L, arg);
}

int table_insert(lua_State* L) {
  const lua_Integer first_empty = luaL_intop(+, length_of(L, 1, kRead | kWrite), 1);
  lua_Integer position = first_empty;
  switch (lua_gettop(L)) {
    case 2:
      break;
    case 3: {
      position = luaL_checkinteger(L, 2);
      luaL_argcheck(
          L, static_cast<lua_Unsigned>(position) - 1u < static_cast<lua_Unsigned>(first_empty), 2,
          "position out of bounds");
      WorkCounter work(L);
      for (lua_Integer i = first_empty; i > position; --i) {  // move up t[position..]
        lua_geti(L, 1, i - 1);
        lua_seti(L, 1, i);
        work.step();
      }
      work.flush();
      break;
    }
    default:
      return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_seti(L, 1, position);
  return 0;
}

int table_remove(lua_State* L) {
  const lua_Integer size = length_of(L, 1, kRead | kWrite);
  lua_Integer position = luaL_optinteger(L, 2, size);
  if (position != size) {
    luaL_argcheck(L, static_cast<lua_Unsigned>(position) - 1u <= static_cast<lua_Unsigned>(size), 2,
                  "position out of bounds");
  }
  lua_geti(L, 1, position);  // the result
  WorkCounter work(L);
  for (; position < size; ++position) {  // move down t[position+1..]
    lua_geti(L, 1, position + 1);
    lua_seti(L, 1, position);
    work.step();
  }
  work.flush();
  lua_pushnil(L);
  lua_seti(L, 1, position);
  return 1;
}

int table_move(lua_State* L) {
  const lua_Integer from = luaL_checkinteger(L, 2);
  const lua_Integer end = luaL_checkinteger(L, 3);
  const lua_Integer to = luaL_checkinteger(L, 4);
  const int destination = !lua_isnoneornil(L, 5) ? 5 : 1;
  check_table(L, 1, kRead);
  check_table(L, destination, kWrite);
  if (end >= from) {
    luaL_argcheck(L, from > 0 || end < LUA_MAXINTEGER + from, 3, "too many elements to move");
    const lua_Integer count = end - from + 1;
    luaL_argcheck(L, to <= LUA_MAXINTEGER - count + 1, 4, "destination wrap around");
    WorkCounter work(L);
    if (to > end || to <= from || (destination != 1 && !lua_compare(L, 1, destination, LUA_OPEQ))) {
      for (lua_Integer i = 0; i < count; ++i) {
        lua_geti(L, 1, from + i);
        lua_seti(L, destination, to + i);
        work.step();
      }
    } else {  // overlapping, moving up: copy from the end
      for (lua_Integer i = count - 1; i >= 0; --i) {
        lua_geti(L, 1, from + i);
        lua_seti(L, destination, to + i);
        work.step();
      }
    }
    work.flush();
  }
  lua_pushvalue(L, destination);
  return 1;
}

// For a plain table, adds up the result's size before building anything: a result that
// cannot fit in the heap stops the script without first copying up to a heap's worth.
// Stops at the first value concat would refuse, leaving the error to the real loop.
void check_concat_size(lua_State* L, lua_Integer first, lua_Integer last, std::size_t separator) {
  if (lua_type(L, 1) != LUA_TTABLE || lua_getmetatable(L, 1)) {
    if (lua_type(L, 1) == LUA_TTABLE) lua_pop(L, 1);
    return;  // metamethods run Lua code, which the hook watches
  }
  Sandbox& sandbox = Sandbox::of(L);
  const std::size_t cap = sandbox.memory_limit_bytes();
  WorkCounter work(L);
  std::size_t total = 0;
  for (lua_Integer i = first; i <= last; ++i) {
    const int type = lua_rawgeti(L, 1, i);
    const std::size_t size = type == LUA_TSTRING ? lua_rawlen(L, -1) : 1;
    lua_pop(L, 1);
    if (type != LUA_TSTRING && type != LUA_TNUMBER) break;
    total += size + (i > first ? separator : 0);
    if (total > cap) sandbox.stop(L, StopReason::memory);
    work.step();
    if (i == LUA_MAXINTEGER) break;
  }
  work.flush();
}

int table_concat(lua_State* L) {
  lua_Integer last = length_of(L, 1, kRead);
  std::size_t separator_length = 0;
  const char* separator = luaL_optlstring(L, 2, "", &separator_length);
  lua_Integer i = luaL_optinteger(L, 3, 1);
  last = luaL_optinteger(L, 4, last);
  check_concat_size(L, i, last, separator_length);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  WorkCounter work(L);
  auto add_field = [&](lua_Integer index) {
    lua_geti(L, 1, index);
    if (!lua_isstring(L, -1)) {
      luaL_error(L, "invalid value (at index %I) in table for 'concat'",
                 static_cast<LUAI_UACINT>(index));
    }
    luaL_addvalue(&b);
    work.step();
  };
  for (; i < last; ++i) {
    add_field(i);
    luaL_addlstring(&b, separator, separator_length);
  }
  if (i == last) add_field(i);  // the last value, when the range is not empty
  work.flush();
  luaL_pushresult(&b);
  return 1;
}

}  // namespace

void patch_safe_table(lua_State* L) {
  const luaL_Reg functions[] = {{"insert", table_insert},
                                {"remove", table_remove},
                                {"move", table_move},
                                {"concat", table_concat},
                                {nullptr, nullptr}};
  luaL_setfuncs(L, functions, 0);
}

}  // namespace perdiem::lua
