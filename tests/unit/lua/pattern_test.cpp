// The metered matcher against stock Lua: string.find/match/gmatch/gsub in a sandbox
// must give exactly what stock Lua gives, errors included, for fixed tricky cases and
// for thousands of random patterns. And the metering itself.
#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "runtime/lua/pattern.hpp"
#include "runtime/lua/sandbox.hpp"

using perdiem::lua::Sandbox;
using perdiem::lua::SandboxLimits;
using perdiem::lua::pattern::Matcher;

namespace {

// Calls `op` on the globals S, P, I (and R for gsub) under pcall and serializes every
// result with its type, so both states can be compared as text.
constexpr const char* kHarness = R"lua(
local function serialize(...)
  local out = {}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[#out + 1] = type(v) .. ":" .. tostring(v)
  end
  return table.concat(out, "|")
end
local op = OP
if op == "find" then return serialize(pcall(string.find, S, P, I))
elseif op == "plain" then return serialize(pcall(string.find, S, P, I, true))
elseif op == "match" then return serialize(pcall(string.match, S, P, I))
elseif op == "gmatch" then
  return serialize(pcall(function()
    local all, n = {}, 0
    for a, b in string.gmatch(S, P, I) do
      n = n + 1
      all[#all + 1] = serialize(a, b)
      if n > 50 then break end
    end
    return table.concat(all, ";")
  end))
elseif op == "gsub_string" then return serialize(pcall(string.gsub, S, P, R))
elseif op == "gsub_limited" then return serialize(pcall(string.gsub, S, P, R, I))
elseif op == "gsub_table" then
  return serialize(pcall(string.gsub, S, P, {a = "A", ab = false, ["1"] = 7, b = {}}))
elseif op == "gsub_function" then
  return serialize(pcall(string.gsub, S, P, function(...)
    local n = select("#", ...)
    if n == 1 and ... == "b" then return nil end
    return "<" .. serialize(...) .. ">"
  end))
end
)lua";

std::string evaluate(lua_State* L, const std::string& op, const std::string& subject,
                     const std::string& pattern, lua_Integer init, const std::string& replacement) {
  lua_pushlstring(L, op.data(), op.size());
  lua_setglobal(L, "OP");
  lua_pushlstring(L, subject.data(), subject.size());
  lua_setglobal(L, "S");
  lua_pushlstring(L, pattern.data(), pattern.size());
  lua_setglobal(L, "P");
  lua_pushinteger(L, init);
  lua_setglobal(L, "I");
  lua_pushlstring(L, replacement.data(), replacement.size());
  lua_setglobal(L, "R");
  if (luaL_loadbufferx(L, kHarness, std::char_traits<char>::length(kHarness), "=harness", "t") !=
          LUA_OK ||
      lua_pcall(L, 0, 1, 0) != LUA_OK) {
    std::string failure = std::string("harness failed: ") + lua_tostring(L, -1);
    lua_pop(L, 1);
    return failure;
  }
  std::string result = lua_tostring(L, -1);
  lua_pop(L, 1);
  return result;
}

struct States {
  lua_State* stock = nullptr;
  std::unique_ptr<Sandbox> sandbox;
  States() {
    stock = luaL_newstate();
    luaL_openlibs(stock);
    SandboxLimits limits;
    limits.instruction_limit = 0;  // the comparison runs long; metering is tested below
    auto created = Sandbox::create(std::move(limits));
    REQUIRE(created.ok());
    sandbox = std::move(created).value();
  }
  ~States() { lua_close(stock); }

  void compare(const std::string& op, const std::string& subject, const std::string& pattern,
               lua_Integer init = 1, const std::string& replacement = "<%0>") {
    const std::string expected = evaluate(stock, op, subject, pattern, init, replacement);
    const std::string actual = evaluate(sandbox->state(), op, subject, pattern, init, replacement);
    if (expected != actual) {
      CAPTURE(op);
      CAPTURE(subject);
      CAPTURE(pattern);
      CAPTURE(init);
      CAPTURE(replacement);
      CHECK(actual == expected);
    }
  }

  void compare_all(const std::string& subject, const std::string& pattern, lua_Integer init = 1) {
    for (const char* op :
         {"find", "plain", "match", "gmatch", "gsub_string", "gsub_table", "gsub_function"}) {
      compare(op, subject, pattern, init);
    }
  }
};

}  // namespace

TEST_CASE("the sandbox's pattern functions agree with stock Lua on tricky cases") {
  States states;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hello world", "o w"},
      {"hello world", "l+"},
      {"hello world", "^h"},
      {"hello world", "^w"},
      {"hello world", "d$"},
      {"hello world", "o$x"},
      {"  trim me  ", "^%s*(.-)%s*$"},
      {"key = value", "(%w+)%s*=%s*(%w+)"},
      {"f(a(b)c)d", "%b()"},
      {"THE (quick) fox", "%f[%a]%a+"},
      {"abcabc", "(a)(b)(c)%1%2%3"},
      {"abc", "()b()"},
      {"aaa", "a-"},
      {"aaa", "a-$"},
      {"aaa", "a?a?a?a"},
      {"", ""},
      {"", "x*"},
      {"abc", ""},
      {"a.b", "."},
      {"a.b", "%."},
      {"a]b", "[]]"},
      {"a-b", "[a-]"},
      {"a^b", "[%^]"},
      {"a^b", "[^^]"},
      {"x\0y", "%z"},
      {std::string("x\0y", 3), std::string("\0", 1)},
      {"abc", "[a-c]+"},
      {"ABCdef", "%u+"},
      {"12ab", "%D+"},
      {"a,b,,c", "([^,]*)"},
      {"abc", "%"},
      {"abc", "[a"},
      {"abc", "[^"},
      {"abc", "(a"},
      {"abc", "a)"},
      {"abc", "%1"},
      {"abc", "(a)%2"},
      {"abc", "%f"},
      {"abc", "%fx"},
      {"abc", "%b"},
      {"abc", "%ba"},
      {"abc", "(()"},
      {"abc", "%0"},
      {"abc", "[%"},
      {"hello", "(h)(e)(l)(l)(o)"},
      {"x = 1, y = 2", "(%w+) = (%w+)"},
      {"aaa", "()a*()"},
      {"<a><b>", "<(.-)>"},
      {"one two  three", "%S+"},
      {"a$b", "$b"},
      {"a$", "a$$"},
      {"abc", "^"},
      {"THE END", "%f[%z]"},
      {"THE END", "%f[%W]"},
  };
  for (const auto& [subject, pattern] : cases) {
    for (lua_Integer init : {1, 2, -1, -10, 0, 4, 100}) states.compare_all(subject, pattern, init);
  }
  for (const char* replacement : {"%1", "%2", "%%", "x%", "%x", "[%0|%1]", "%9", "", "%%%0"}) {
    states.compare("gsub_string", "hello world", "(o)", 1, replacement);
    states.compare("gsub_string", "hello world", "o", 1, replacement);
    states.compare("gsub_string", "hello world", "()o", 1, replacement);
  }
  for (lua_Integer limit : {0, 1, 2, -1}) {
    states.compare("gsub_limited", "a a a a", "a", limit, "b");
  }
  // Too many captures and too deep a pattern fail the same way.
  std::string many_captures;
  for (int i = 0; i < 33; ++i) many_captures += "(a)";
  states.compare_all(std::string(40, 'a'), many_captures);
  std::string deep;
  for (int i = 0; i < 250; ++i) deep += "a?";
  states.compare_all(std::string(300, 'a'), deep);
}

TEST_CASE("the sandbox's pattern functions agree with stock Lua on random patterns") {
  States states;
  std::mt19937 random(20240611);
  const std::vector<std::string> atoms = {
      "a",     "b",     "c",    ".",      "%a",     "%d", "%s", "%w", "%A", "[ab]", "[^a]",
      "[a-c]", "[%a_]", "%b()", "%f[%w]", "%f[%s]", "(",  ")",  "()", "%1", "%2",   "*",
      "+",     "-",     "?",    "$",      "%",      "[",  "%%", " ",  "%(", "%.",   "x"};
  const std::string subject_alphabet = "aab c(d)1_.x ";
  auto pick = [&](std::size_t n) { return static_cast<std::size_t>(random() % n); };
  for (int round = 0; round < 3000; ++round) {
    std::string pattern;
    if (pick(5) == 0) pattern += "^";
    const std::size_t atom_count = pick(7);
    for (std::size_t i = 0; i < atom_count; ++i) pattern += atoms[pick(atoms.size())];
    std::string subject;
    const std::size_t length = pick(14);
    for (std::size_t i = 0; i < length; ++i)
      subject += subject_alphabet[pick(subject_alphabet.size())];
    const lua_Integer init = static_cast<lua_Integer>(pick(20)) - 5;
    states.compare_all(subject, pattern, init);
    if (states.sandbox->stopped())
      FAIL("the sandbox stopped: " << states.sandbox->stopped()->message);
  }
}

TEST_CASE("the matcher reports its steps and a throwing meter abandons a catastrophic match") {
  // ".-.-.-.-b" against 3,000 'a's takes on the order of 10^13 steps in stock Lua.
  const std::string subject(3000, 'a');
  const std::string pattern = ".-.-.-.-b";
  std::uint64_t metered = 0;
  struct Enough {};
  Matcher matcher(subject.data(), subject.size(), pattern.data(), pattern.size(),
                  [&](std::uint64_t steps) {
                    metered += steps;
                    if (metered > 1'000'000) throw Enough{};
                  });
  CHECK_THROWS_AS(matcher.match(subject.data(), pattern.data()), Enough);
  CHECK(metered > 1'000'000);
  CHECK(metered < 1'000'000 + 2 * Matcher::kMeterEvery);
}

TEST_CASE("a simple match is metered in full after flush") {
  const std::string subject = "hello world";
  const std::string pattern = "w%a+";
  std::uint64_t metered = 0;
  Matcher matcher(subject.data(), subject.size(), pattern.data(), pattern.size(),
                  [&](std::uint64_t steps) { metered += steps; });
  const char* end = matcher.match(subject.data() + 6, pattern.data());
  REQUIRE(end != nullptr);
  CHECK(end == subject.data() + subject.size());
  CHECK(metered == 0);  // fewer steps than a block
  matcher.flush();
  CHECK(metered > 0);
  CHECK(metered < 50);
}
