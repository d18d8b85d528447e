// string.find/match/gmatch/gsub on the metered matcher, and a bounded string.rep.
// Argument handling and messages follow lstrlib.c so scripts see stock Lua.
#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "runtime/lua/pattern.hpp"
#include "runtime/lua/safe_libs.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

using pattern::Matcher;
using pattern::PatternError;

// A 1-based string position as string.find takes it: negative counts from the end,
// anything before the start clips to 1.
std::size_t start_position(lua_Integer position, std::size_t length) {
  if (position > 0) return static_cast<std::size_t>(position);
  if (position == 0) return 1;
  if (position < -static_cast<lua_Integer>(length)) return 1;
  return length + static_cast<std::size_t>(position) + 1;
}

Matcher make_matcher(lua_State* L, const char* s, std::size_t ls, const char* p, std::size_t lp) {
  Sandbox& sandbox = Sandbox::of(L);
  return Matcher(s, ls, p, lp, [L, &sandbox](std::uint64_t steps) { sandbox.charge(L, steps); });
}

// matcher.match, with a malformed pattern raised as Lua raises it.
const char* match_or_raise(lua_State* L, Matcher& matcher, const char* s, const char* p) {
  std::string malformed;
  try {
    return matcher.match(s, p);
  } catch (const PatternError& e) {
    malformed = e.what();
  }
  luaL_error(L, "%s", malformed.c_str());
  return nullptr;  // unreachable
}

// Pushes capture i, or the whole match [s, e) when the pattern has no captures.
void push_capture(lua_State* L, const Matcher& matcher, int i, const char* s, const char* e) {
  if (i >= matcher.capture_count()) {
    if (i != 0) luaL_error(L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(L, s, static_cast<std::size_t>(e - s));
    return;
  }
  const pattern::Capture& capture = matcher.capture(i);
  if (capture.length == pattern::kUnfinished) luaL_error(L, "unfinished capture");
  if (capture.length == pattern::kPosition) {
    lua_pushinteger(L, static_cast<lua_Integer>(capture.init - matcher.subject()) + 1);
  } else {
    lua_pushlstring(L, capture.init, static_cast<std::size_t>(capture.length));
  }
}

// Pushes every capture (the whole match if none and s is given); returns how many.
int push_captures(lua_State* L, const Matcher& matcher, const char* s, const char* e) {
  const int count = (matcher.capture_count() == 0 && s != nullptr) ? 1 : matcher.capture_count();
  luaL_checkstack(L, count, "too many captures");
  for (int i = 0; i < count; ++i) push_capture(L, matcher, i, s, e);
  return count;
}

int find_or_match(lua_State* L, bool find) {
  std::size_t ls = 0, lp = 0;
  const char* s = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const std::size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {  // starts after the subject's end
    luaL_pushfail(L);
    return 1;
  }
  if (find && (lua_toboolean(L, 4) || pattern::has_no_specials(p, lp))) {
    // memmem is linear in the worst case, unlike a naive search.
    const void* found = lp == 0 ? s + init : memmem(s + init, ls - init, p, lp);
    if (found != nullptr) {
      const auto offset = static_cast<const char*>(found) - s;
      lua_pushinteger(L, static_cast<lua_Integer>(offset) + 1);
      lua_pushinteger(L, static_cast<lua_Integer>(offset + static_cast<std::ptrdiff_t>(lp)));
      return 2;
    }
    luaL_pushfail(L);
    return 1;
  }
  const bool anchored = lp > 0 && *p == '^';
  if (anchored) {
    ++p;
    --lp;
  }
  Matcher matcher = make_matcher(L, s, ls, p, lp);
  const char* start = s + init;
  do {
    if (const char* end = match_or_raise(L, matcher, start, p)) {
      matcher.flush();
      if (find) {
        lua_pushinteger(L, static_cast<lua_Integer>(start - s) + 1);
        lua_pushinteger(L, static_cast<lua_Integer>(end - s));
        return push_captures(L, matcher, nullptr, nullptr) + 2;
      }
      return push_captures(L, matcher, start, end);
    }
  } while (start++ < matcher.subject_end() && !anchored);
  matcher.flush();
  luaL_pushfail(L);
  return 1;
}

int str_find(lua_State* L) {
  return find_or_match(L, true);
}

int str_match(lua_State* L) {
  return find_or_match(L, false);
}

// gmatch's iterator. Upvalues: the subject, the pattern, and a full userdata holding
// this state (no metatable, so no finalizer).
struct GmatchState {
  std::size_t next = 0;            // where the next search starts
  std::size_t last_match_end = 0;  // end of the previous match, to skip an empty match
  bool has_last_match = false;     //   there
};

int gmatch_next(lua_State* L) {
  std::size_t ls = 0, lp = 0;
  const char* s = lua_tolstring(L, lua_upvalueindex(1), &ls);
  const char* p = lua_tolstring(L, lua_upvalueindex(2), &lp);
  auto* state = static_cast<GmatchState*>(lua_touserdata(L, lua_upvalueindex(3)));
  Matcher matcher = make_matcher(L, s, ls, p, lp);
  for (std::size_t start = state->next; start <= ls; ++start) {
    const char* end = match_or_raise(L, matcher, s + start, p);
    if (end != nullptr &&
        !(state->has_last_match && static_cast<std::size_t>(end - s) == state->last_match_end)) {
      state->next = state->last_match_end = static_cast<std::size_t>(end - s);
      state->has_last_match = true;
      matcher.flush();
      return push_captures(L, matcher, s + start, end);
    }
  }
  matcher.flush();
  return 0;
}

int str_gmatch(lua_State* L) {
  std::size_t ls = 0;
  luaL_checklstring(L, 1, &ls);
  luaL_checklstring(L, 2, nullptr);
  std::size_t init = start_position(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) init = ls + 1;  // past the end: the iterator finds nothing
  lua_settop(L, 2);
  auto* state = new (lua_newuserdatauv(L, sizeof(GmatchState), 0)) GmatchState{};
  state->next = init;
  lua_pushcclosure(L, gmatch_next, 3);
  return 1;
}

// Appends gsub's replacement string (stack index 3) for the match [s, e): %0 is the
// match, %1..%9 the captures, %% a percent sign.
void add_replacement_string(lua_State* L, luaL_Buffer* b, const Matcher& matcher, const char* s,
                            const char* e) {
  std::size_t length = 0;
  const char* text = lua_tolstring(L, 3, &length);
  const char* end = text + length;
  while (const char* escape = static_cast<const char*>(
             std::memchr(text, '%', static_cast<std::size_t>(end - text)))) {
    luaL_addlstring(b, text, static_cast<std::size_t>(escape - text));
    const char next = escape + 1 < end ? escape[1] : '\0';
    if (next == '%') {
      luaL_addchar(b, '%');
    } else if (next == '0') {
      luaL_addlstring(b, s, static_cast<std::size_t>(e - s));
    } else if (next >= '1' && next <= '9') {
      push_capture(L, matcher, next - '1', s, e);
      luaL_addvalue(b);  // a position capture arrives as an integer: added as its digits
    } else {
      luaL_error(L, "invalid use of '%c' in replacement string", '%');
    }
    text = escape + 2;
  }
  if (text < end) luaL_addlstring(b, text, static_cast<std::size_t>(end - text));
}

// Appends the replacement for the match [s, e); returns whether it changed the text.
bool add_replacement(lua_State* L, luaL_Buffer* b, const Matcher& matcher, const char* s,
                     const char* e, int type) {
  switch (type) {
    case LUA_TFUNCTION: {
      lua_pushvalue(L, 3);
      const int count = push_captures(L, matcher, s, e);
      lua_call(L, count, 1);
      break;
    }
    case LUA_TTABLE:
      push_capture(L, matcher, 0, s, e);
      lua_gettable(L, 3);
      break;
    default:  // a string or a number
      add_replacement_string(L, b, matcher, s, e);
      return true;
  }
  if (!lua_toboolean(L, -1)) {  // nil or false: keep the original text
    lua_pop(L, 1);
    luaL_addlstring(b, s, static_cast<std::size_t>(e - s));
    return false;
  }
  if (!lua_isstring(L, -1)) {
    luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
  }
  luaL_addvalue(b);
  return true;
}

int str_gsub(lua_State* L) {
  std::size_t ls = 0, lp = 0;
  const char* src = luaL_checklstring(L, 1, &ls);
  const char* p = luaL_checklstring(L, 2, &lp);
  const int type = lua_type(L, 3);
  const lua_Integer max_replacements = luaL_optinteger(L, 4, static_cast<lua_Integer>(ls) + 1);
  luaL_argexpected(
      L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION || type == LUA_TTABLE,
      3, "string/function/table");
  const bool anchored = lp > 0 && *p == '^';
  if (anchored) {
    ++p;
    --lp;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  Matcher matcher = make_matcher(L, src, ls, p, lp);
  const char* last_match = nullptr;
  lua_Integer count = 0;
  bool changed = false;
  while (count < max_replacements) {
    const char* e = match_or_raise(L, matcher, src, p);
    if (e != nullptr && e != last_match) {
      ++count;
      matcher.flush();  // charge before Lua code runs in the replacement
      changed = add_replacement(L, &b, matcher, src, e, type) || changed;
      src = last_match = e;
    } else if (src < matcher.subject_end()) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchored) break;
  }
  matcher.flush();
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, static_cast<std::size_t>(matcher.subject_end() - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, count);
  return 2;
}

// string.rep(s, n [, sep]). Stock Lua loops n times even when s and sep are empty (so
// ("").rep("", 2^60) never returns), and only learns that a result cannot fit when the
// allocation fails. Here an empty result costs nothing, a result larger than the whole
// heap stops the script at once, and copying doubles instead of looping n times.
int str_rep(lua_State* L) {
  std::size_t l = 0, lsep = 0;
  const char* s = luaL_checklstring(L, 1, &l);
  const lua_Integer n = luaL_checkinteger(L, 2);
  const char* sep = luaL_optlstring(L, 3, "", &lsep);
  if (n <= 0 || l + lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  const auto count = static_cast<std::size_t>(n);
  const std::size_t unit = l + lsep;
  constexpr auto kMaxSize = static_cast<std::size_t>(LUA_MAXINTEGER);
  if (unit < l || unit > kMaxSize / count) return luaL_error(L, "resulting string too large");
  const std::size_t total = count * l + (count - 1) * lsep;
  Sandbox& sandbox = Sandbox::of(L);
  if (total > sandbox.memory_limit_bytes()) sandbox.stop(L, StopReason::memory);
  luaL_Buffer b;
  char* out = luaL_buffinitsize(L, &b, total);
  // (s .. sep) repeated n - 1 times, then s: write one unit, double it, finish.
  const std::size_t repeated = (count - 1) * unit;
  if (repeated > 0) {
    std::memcpy(out, s, l);
    std::memcpy(out + l, sep, lsep);
    std::size_t filled = unit;
    while (filled < repeated) {
      const std::size_t chunk = std::min(filled, repeated - filled);
      std::memcpy(out + filled, out, chunk);
      filled += chunk;
    }
  }
  std::memcpy(out + repeated, s, l);
  luaL_pushresultsize(&b, total);
  return 1;
}

}  // namespace

void install_safe_string(lua_State* L) {
  const luaL_Reg functions[] = {{"find", str_find}, {"match", str_match}, {"gmatch", str_gmatch},
                                {"gsub", str_gsub}, {"rep", str_rep},     {nullptr, nullptr}};
  lua_getglobal(L, LUA_STRLIBNAME);
  luaL_setfuncs(L, functions, 0);
  lua_pop(L, 1);
}

}  // namespace perdiem::lua
