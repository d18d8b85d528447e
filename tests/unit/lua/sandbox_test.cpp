// The sandbox: what a script can and cannot reach, and the heap cap.
#include <doctest/doctest.h>

#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/sandbox.hpp"

using perdiem::Error;
using perdiem::ErrorKind;
using perdiem::lua::Sandbox;
using perdiem::lua::SandboxLimits;

namespace {

struct Ran {
  std::optional<Error> error;  // an error table's Error, or kind script with the message
  int status = LUA_OK;
  std::string value;  // tostring of the first result
};

SandboxLimits memory_cap(std::size_t limit) {
  SandboxLimits limits;
  limits.memory_limit_bytes = limit;
  return limits;
}

std::unique_ptr<Sandbox> make_sandbox(std::size_t limit = 64u << 20) {
  auto created = Sandbox::create(memory_cap(limit));
  REQUIRE(created.ok());
  return std::move(created).value();
}

// Runs `code` as chunk "test.lua" under lua_pcall.
Ran run(Sandbox& sandbox, const std::string& code) {
  lua_State* L = sandbox.state();
  Ran ran;
  ran.status = luaL_loadbufferx(L, code.data(), code.size(), "@test.lua", "t");
  if (ran.status == LUA_OK) ran.status = lua_pcall(L, 0, 1, 0);
  if (ran.status == LUA_OK) {
    std::size_t length = 0;
    const char* text = luaL_tolstring(L, -1, &length);
    ran.value.assign(text, length);
    lua_pop(L, 2);
    return ran;
  }
  if (auto carried = perdiem::lua::read_error_table(L, -1)) {
    ran.error = *carried;
  } else {
    const char* message = lua_tostring(L, -1);
    ran.error = perdiem::make_error(ErrorKind::script, message ? message : "?");
  }
  lua_pop(L, 1);
  return ran;
}

void check_forbidden(const std::string& code, const std::string& name) {
  auto sandbox = make_sandbox();
  const Ran ran = run(*sandbox, code);
  CAPTURE(code);
  REQUIRE(ran.error.has_value());
  CHECK(ran.error->kind == ErrorKind::sandbox);
  CHECK(ran.error->message == name + " is not available in the perdiem sandbox");
  CHECK(ran.error->source == "test.lua:1");
}

}  // namespace

TEST_CASE("math, table, utf8, coroutine and os are built on first use, then plain globals") {
  auto fresh = make_sandbox();
  auto used = make_sandbox();
  const Ran ran = run(*used,
                      "local before = rawget(_G, 'math') == nil and rawget(_G, 'table') == nil\n"
                      "local floor = math.floor(2.5)\n"
                      "return tostring(before) .. ',' .. floor .. ',' .. type(rawget(_G, 'math'))"
                      " .. ',' .. tostring(math == math) .. ',' .. #utf8.char(233) .. ',' .. "
                      "table.concat({'a', 'b'}) .. ',' .. type(os.time()) .. ',' .. "
                      "coroutine.status(coroutine.create(function() end))");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value == "true,2,table,true,2,ab,number,suspended");
  // What an agent that never touches them does not pay for.
  CHECK(used->memory_used() > fresh->memory_used() + 4096);
}

TEST_CASE("a lazy global the script assigns or clears first is the script's") {
  auto sandbox = make_sandbox();
  const Ran ran = run(*sandbox,
                      "math = 5\n"
                      "utf8 = nil\n"
                      "local replaced = math\n"
                      "local cleared = utf8\n"
                      "table = nil\n"
                      "return tostring(replaced) .. ',' .. tostring(cleared) .. ',' .. "
                      "tostring(table) .. ',' .. type(coroutine)");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value == "5,nil,nil,table");
}

TEST_CASE("io is not available") {
  check_forbidden("return io.open('/etc/passwd')", "io");
}

TEST_CASE("os.execute raises on index and on call, naming the function") {
  check_forbidden("local f = os.execute", "os.execute");
  check_forbidden("os.execute('touch /tmp/perdiem-pwned')", "os.execute");
}

TEST_CASE("every dangerous os function is refused by name") {
  for (const char* name : {"exit", "remove", "rename", "getenv", "tmpname", "setlocale"}) {
    check_forbidden(std::string("return os.") + name + "('x')", std::string("os.") + name);
  }
}

TEST_CASE("os keeps time, clock, date and difftime") {
  auto sandbox = make_sandbox();
  const Ran ran = run(*sandbox,
                      "return type(os.time()) .. type(os.clock()) .. type(os.date('%Y')) .. "
                      "type(os.difftime(2, 1))");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value == "numbernumberstringnumber");
}

TEST_CASE("package, require, debug, dofile and loadfile are not available") {
  check_forbidden("return package.loadlib('libc.so.6', 'system')", "package");
  check_forbidden("return require('os')", "require");
  check_forbidden("return debug.getregistry()", "debug");
  check_forbidden("return dofile('/etc/passwd')", "dofile");
  check_forbidden("return loadfile('/etc/passwd')", "loadfile");
}

TEST_CASE("string.dump is not available, as a function or as a method") {
  check_forbidden("return string.dump(function() end)", "string.dump");
  check_forbidden("return ('x').dump(print)", "string.dump");
}

TEST_CASE("print is absent from a bare sandbox: it would write to the host's stdout") {
  auto sandbox = make_sandbox();
  CHECK(run(*sandbox, "return print == nil").value == "true");
}

TEST_CASE("unknown names are still nil") {
  auto sandbox = make_sandbox();
  const Ran ran =
      run(*sandbox, "return nosuch == nil and os.nosuch == nil and string.nosuch == nil");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value == "true");
}

TEST_CASE("the guards cannot be removed with setmetatable") {
  auto sandbox = make_sandbox();
  const Ran ran = run(*sandbox, "setmetatable(_G, nil)");
  REQUIRE(ran.error);
  CHECK(ran.error->message.find("protected metatable") != std::string::npos);
  CHECK(run(*sandbox, "return getmetatable(_G)").value == "false");
  CHECK(run(*sandbox, "return getmetatable(os)").value == "false");
}

TEST_CASE("the string metatable is hidden and cannot be altered") {
  auto sandbox = make_sandbox();
  CHECK(run(*sandbox, "return getmetatable('')").value == "false");
  const Ran altered =
      run(*sandbox, "getmetatable('').__index = {upper = function() return 'pwned' end}");
  CHECK(altered.error);
  CHECK(run(*sandbox, "return ('abc'):upper()").value == "ABC");
}

TEST_CASE("load compiles text chunks") {
  auto sandbox = make_sandbox();
  CHECK(run(*sandbox, "return load('return 1 + 1')()").value == "2");
  // Asking for binary mode is overridden, not an escape hatch.
  CHECK(run(*sandbox, "return load('return 3', 'x', 'b')()").value == "3");
  CHECK(run(*sandbox, "local env = {y = 4}; return load('return y', 'x', 't', env)()").value ==
        "4");
}

TEST_CASE("load refuses a binary chunk with a sandbox error") {
  check_forbidden("return load('\\27Lua\\84\\0')", "load of a binary chunk");
}

TEST_CASE("load refuses a binary chunk delivered by a reader function") {
  auto sandbox = make_sandbox();
  const Ran ran = run(*sandbox, R"lua(
    local parts = {"\27Lua", "\84\0"}
    local f, message = load(function() return table.remove(parts, 1) end)
    return tostring(f) .. " " .. message)lua");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value.find("nil") == 0);
  CHECK(ran.value.find("binary") != std::string::npos);
}

TEST_CASE("collectgarbage answers count and refuses everything else") {
  auto sandbox = make_sandbox();
  CHECK(run(*sandbox, "return math.type(collectgarbage('count'))").value == "float");
  const Ran ran = run(*sandbox, "collectgarbage()");
  REQUIRE(ran.error);
  CHECK(ran.error->kind == ErrorKind::sandbox);
  CHECK(ran.error->message ==
        "collectgarbage(\"collect\") is not available in the perdiem sandbox");
}

TEST_CASE("a sandbox error table prints as kind: message and hides its metatable") {
  auto sandbox = make_sandbox();
  const Ran ran = run(*sandbox, R"lua(
    local ok, err = pcall(function() return io end)
    return tostring(err) .. "|" .. tostring(getmetatable(err)) .. "|" .. err.kind)lua");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value == "sandbox: io is not available in the perdiem sandbox|false|sandbox");
}

TEST_CASE("a memory bomb fails with LUA_ERRMEM and the sandbox stays stopped") {
  auto sandbox = make_sandbox(4u << 20);
  const Ran bomb = run(*sandbox, "local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(64) .. i end");
  CHECK(bomb.status == LUA_ERRMEM);
  CHECK(sandbox->memory_limit_reached());
  CHECK(sandbox->memory_limit_message() == "memory limit of 4 MiB reached");
  CHECK(sandbox->memory_used() <= (4u << 20));
  // The next instruction raises the limit again: a script cannot catch it and go on.
  const Ran next = run(*sandbox, "return 1 + 1");
  REQUIRE(next.error);
  CHECK(next.error->kind == ErrorKind::limit);
  CHECK(next.error->message == "memory limit of 4 MiB reached");
  REQUIRE(sandbox->stopped());
  CHECK(sandbox->stopped()->message == "memory limit of 4 MiB reached");
}

TEST_CASE("a garbage-heavy script near the cap is not stopped: only a full heap counts") {
  auto sandbox = make_sandbox(4u << 20);
  // 1.5 MiB live at a time, 40 MiB allocated in all: refusals happen and collections
  // resolve them.
  const Ran ran = run(*sandbox, R"lua(
    local keep = ("k"):rep(1536 * 1024)
    for i = 1, 40 do local s = ("x"):rep(1 << 20) .. i end
    return #keep)lua");
  REQUIRE_FALSE(ran.error);
  CHECK(ran.value == "1572864");
  CHECK_FALSE(sandbox->memory_limit_reached());
  CHECK_FALSE(sandbox->stopped());
}

TEST_CASE("one huge string.rep is refused without touching the heap") {
  auto sandbox = make_sandbox(4u << 20);
  const Ran ran = run(*sandbox, "return ('x'):rep(1 << 30)");
  REQUIRE(ran.error);
  CHECK(ran.error->kind == ErrorKind::limit);
  CHECK(ran.error->message == "memory limit of 4 MiB reached");
  CHECK(sandbox->memory_used() < (4u << 20));
}

TEST_CASE("the limit message names the configured cap in its natural unit") {
  CHECK(make_sandbox(64u << 20)->memory_limit_message() == "memory limit of 64 MiB reached");
  CHECK(make_sandbox(1536u << 10)->memory_limit_message() == "memory limit of 1536 KiB reached");
  CHECK(make_sandbox((1u << 20) + 1)->memory_limit_message() ==
        "memory limit of 1048577 bytes reached");
}

TEST_CASE("a cap too small to open the libraries is a limit error, not a crash") {
  auto created = Sandbox::create(memory_cap(2048));
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().kind == ErrorKind::limit);
  CHECK(created.error().message == "memory limit of 2 KiB reached");
}

TEST_CASE("creating a sandbox under any cap either succeeds or is a limit error") {
  for (std::size_t limit = 0; limit <= (24u << 10); limit += 32) {
    CAPTURE(limit);
    auto created = Sandbox::create(memory_cap(limit));
    if (!created.ok()) CHECK(created.error().kind == ErrorKind::limit);
  }
}

TEST_CASE("run_protected turns Lua errors and C++ exceptions into errors") {
  auto sandbox = make_sandbox();
  lua_State* L = sandbox->state();
  const int top = lua_gettop(L);

  const perdiem::Status lua_error =
      perdiem::lua::run_protected(L, [](lua_State* S) { luaL_error(S, "boom"); });
  REQUIRE_FALSE(lua_error.ok());
  CHECK(lua_error.error().kind == ErrorKind::script);
  CHECK(lua_error.error().message == "boom");

  const perdiem::Status thrown =
      perdiem::lua::run_protected(L, [](lua_State*) { throw std::runtime_error("host bug"); });
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error().message == "host bug");

  lua_pushinteger(L, 41);
  lua_Integer seen = 0;
  CHECK(perdiem::lua::run_protected(L, 1, [&](lua_State* S) { seen = lua_tointeger(S, 1); }).ok());
  CHECK(seen == 41);
  CHECK(lua_gettop(L) == top);  // arguments consumed, nothing left behind
}

TEST_CASE("a sandbox without instruction limit, deadline or cancel flag runs unhooked") {
  SandboxLimits limits = memory_cap(4u << 20);
  limits.instruction_limit = 0;
  auto created = Sandbox::create(std::move(limits));
  REQUIRE(created.ok());
  auto sandbox = std::move(created).value();
  const bool hooked_before = lua_gethook(sandbox->state()) != nullptr;
  CHECK_FALSE(hooked_before);
  CHECK(run(*sandbox, "local x = 0 for i = 1, 3e6 do x = x + 1 end return x").value == "3000000");
  // A full heap still stops it, and from then on every chunk raises.
  run(*sandbox, "local t = {} while true do t[#t + 1] = {} end");
  CHECK((lua_gethook(sandbox->state()) != nullptr));
  const Ran next = run(*sandbox, "return 1");
  REQUIRE(next.error);
  CHECK(next.error->message == "memory limit of 4 MiB reached");
}

TEST_CASE("the instruction limit counts loops; the hook is on by default") {
  SandboxLimits limits;
  limits.instruction_limit = 10'000;
  auto created = Sandbox::create(std::move(limits));
  REQUIRE(created.ok());
  auto sandbox = std::move(created).value();
  CHECK((lua_gethook(sandbox->state()) != nullptr));
  CHECK(run(*sandbox, "local x = 0 for i = 1, 100 do x = x + 1 end return x").value == "100");
  const Ran spin = run(*sandbox, "while true do end");
  REQUIRE(spin.error);
  CHECK(spin.error->kind == ErrorKind::limit);
  CHECK(spin.error->message == "instruction limit of 10000 reached");
  CHECK(spin.error->source == "test.lua:1");
  REQUIRE(sandbox->stopped());
  CHECK(sandbox->stopped()->source == "test.lua:1");
}

TEST_CASE("durations in limit messages read naturally") {
  using perdiem::lua::describe_duration;
  using namespace std::chrono_literals;
  CHECK(describe_duration(2500ms) == "2.5 s");
  CHECK(describe_duration(30s) == "30 s");
  CHECK(describe_duration(50ms) == "50 ms");
  CHECK(describe_duration(1250us) == "1.25 ms");
  CHECK(describe_duration(250us) == "250 µs");
}
