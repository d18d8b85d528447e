// Hostile plans: each must end with a clear error (its kind, and the limit named with
// its value) however it tries to dodge, and the host must run the next plan normally.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "runtime/lua/plan.hpp"

using perdiem::Error;
using perdiem::ErrorKind;
using perdiem::Result;
using perdiem::Status;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

PlanHost make_host() {
  PlanHost host;
  host.chat = [](const ChatRequest&) {
    ChatResponse response;
    response.content = "reply";
    response.provider = "fake";
    return Result<ChatResponse>(response);
  };
  return host;
}

PlanOutcome run(std::string_view source, const PlanLimits& limits = {}) {
  PlanHost host = make_host();
  return perdiem::lua::run_plan(source, "plan.lua", {}, limits, host);
}

PlanOutcome run(std::string_view source, const PlanLimits& limits, PlanHost& host) {
  return perdiem::lua::run_plan(source, "plan.lua", {}, limits, host);
}

PlanLimits instructions(std::uint64_t limit) {
  PlanLimits limits;
  limits.instruction_limit = limit;
  return limits;
}

PlanLimits memory(std::size_t bytes) {
  PlanLimits limits;
  limits.memory_limit_bytes = bytes;
  return limits;
}

// The plan ended with exactly this error, and the process still runs plans.
void check_ended(const PlanOutcome& outcome, ErrorKind kind, const std::string& message) {
  REQUIRE(outcome.error.has_value());
  CHECK(outcome.error->kind == kind);
  CHECK(outcome.error->message == message);
  CHECK(outcome.text.empty());
  const PlanOutcome next = run("return 'next plan ' .. (1 + 1)");
  REQUIRE_FALSE(next.error);
  CHECK(next.text == "next plan 2");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

constexpr const char* kInstructions = "instruction limit of 1000000 reached";

}  // namespace

TEST_CASE("an infinite loop hits the instruction limit, named with its value") {
  const PlanOutcome outcome =
      run("local x = 0\nwhile true do x = x + 1 end", instructions(1'000'000));
  check_ended(outcome, ErrorKind::limit, kInstructions);
  CHECK(outcome.error->source == "plan.lua:2");
}

TEST_CASE("the default instruction limit is 100 million") {
  CHECK(PlanLimits{}.instruction_limit == 100'000'000);
  check_ended(run("while true do end"), ErrorKind::limit, "instruction limit of 100000000 reached");
}

TEST_CASE("a limit cannot be swallowed by pcall, xpcall, coroutines or load") {
  const char* dodges[] = {
      // pcall in a loop, forever
      "while true do pcall(function() while true do end end) end",
      // catch it, then carry on as if nothing happened
      "pcall(function() while true do end end) return 'escaped'",
      // a message handler that itself loops (Lua runs it inside the hook, hooks off)
      "xpcall(function() while true do end end, function() while true do end end) return 'x'",
      "xpcall(error, function() while true do end end) return 'x'",
      "xpcall(function() while true do end end, function(e) return xpcall(error, "
      "function() while true do end end) end) return 'x'",
      // a coroutine that hits the limit hands control back to code that would finish
      "local co = coroutine.create(function() while true do end end)\n"
      "local ok, err = coroutine.resume(co) return 'escaped'",
      "pcall(coroutine.wrap(function() while true do end end)) return 'escaped'",
      // a to-be-closed variable whose __close loops, in a coroutine the limit killed
      "local co = coroutine.wrap(function()\n"
      "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
      "  while true do end\n"
      "end)\n"
      "pcall(co) return 'escaped'",
      "local co = coroutine.create(function()\n"
      "  local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
      "  while true do end\n"
      "end)\n"
      "coroutine.resume(co) pcall(coroutine.close, co) return 'escaped'",
      "local x <close> = setmetatable({}, {__close = function() while true do end end})\n"
      "while true do end",
      // load runs its reader function protected
      "local f = load(function() while true do end end) return 'escaped'",
      // raise something else instead
      "pcall(function() while true do end end) error('not a limit')",
      // tamper with the caught error and raise it again
      "local ok, err = pcall(function() while true do end end)\n"
      "err.kind = 'script'; err.message = 'fine' error(err)",
  };
  for (const char* source : dodges) {
    CAPTURE(source);
    check_ended(run(source, instructions(1'000'000)), ErrorKind::limit, kInstructions);
  }
}

TEST_CASE("xpcall's handler still runs for ordinary errors, and the plan can yield inside") {
  const PlanOutcome outcome = run(R"lua(
    local ok, message = xpcall(error, function(e) return "handled: " .. e end, "boom")
    local ok2, reply = xpcall(model.chat, print, {messages = {{role = "user", content = "x"}}})
    return tostring(ok) .. " " .. message .. " " .. tostring(ok2) .. " " .. reply.content)lua");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "false handled: boom true reply");
}

TEST_CASE("coroutine.wrap and coroutine.close behave as in stock Lua") {
  const PlanOutcome outcome = run(R"lua(
    local out = {}
    local gen = coroutine.wrap(function(a) local b = coroutine.yield(a + 1) return b * 2 end)
    out[#out + 1] = gen(1) .. "," .. gen(5)
    local ok, err = pcall(gen)
    out[#out + 1] = tostring(ok) .. ":" .. err
    local failing = coroutine.wrap(function() error("inner") end)
    ok, err = pcall(failing)
    out[#out + 1] = err
    local closed = {}
    local co = coroutine.create(function()
      local x <close> = setmetatable({}, {__close = function() closed[#closed + 1] = "x" end})
      coroutine.yield()
    end)
    coroutine.resume(co)
    out[#out + 1] = tostring(coroutine.close(co)) .. ":" .. table.concat(closed) .. ":" ..
                    coroutine.status(co)
    local broken = coroutine.create(function() error({code = 7}) end)
    coroutine.resume(broken)
    local closed_ok, closed_err = coroutine.close(broken)
    out[#out + 1] = tostring(closed_ok) .. ":" .. closed_err.code
    out[#out + 1] = select(2, pcall(coroutine.close, coroutine.running()))
    out[#out + 1] = select(2, pcall(coroutine.close, 42))
    local w = coroutine.wrap(function() local x = nil; return x.y end)
    out[#out + 1] = select(2, pcall(function() return w() end))
    return table.concat(out, "|"))lua");
  REQUIRE_FALSE(outcome.error);
  // What stock Lua 5.4 answers for the same script.
  CHECK(outcome.text ==
        "2,10|false:cannot resume dead coroutine|plan.lua:7: inner|true:x:dead|false:7|"
        "cannot close a running coroutine|"
        "bad argument #1 to 'coroutine.close' (thread expected, got number)|"
        "plan.lua:25: plan.lua:24: attempt to index a nil value (local 'x')");
}

TEST_CASE("nothing runs after a limit is caught") {
  std::vector<std::string> lines;
  PlanHost host = make_host();
  host.log = [&](perdiem::LogLevel, std::string_view line) { lines.emplace_back(line); };
  const PlanOutcome outcome = run(R"lua(
    local ok, err = pcall(function()
      while true do end
    end)
    log(err.kind, err.message, err.source)
    return "escaped")lua",
                                  instructions(1'000'000), host);
  check_ended(outcome, ErrorKind::limit, kInstructions);
  CHECK(outcome.error->source == "plan.lua:3");
  // The instruction after the catch raises again: not even the log call runs.
  CHECK(lines.empty());
}

TEST_CASE("a deadline stops a loop that has no instruction limit") {
  PlanLimits limits;
  limits.instruction_limit = 0;
  limits.deadline = 50ms;
  const auto start = Clock::now();
  const PlanOutcome outcome = run("while true do end", limits);
  CHECK(Clock::now() - start < 5s);
  check_ended(outcome, ErrorKind::limit, "deadline of 50 ms passed");
}

TEST_CASE("the deadline is measured on the host's monotonic clock") {
  auto fake_now = Clock::time_point{};
  PlanHost host = make_host();
  host.monotonic_time = [&] {
    fake_now += 1ms;  // every look at the clock costs a millisecond
    return fake_now;
  };
  PlanLimits limits;
  limits.instruction_limit = 0;
  limits.deadline = 2500ms;
  const PlanOutcome outcome =
      run("local ok = pcall(function() while true do end end)", limits, host);
  check_ended(outcome, ErrorKind::limit, "deadline of 2.5 s passed");
}

TEST_CASE("a memory bomb by string.rep ends with the memory limit, caught or not") {
  check_ended(run("local s = string.rep('x', 1 << 40)", memory(8u << 20)), ErrorKind::limit,
              "memory limit of 8 MiB reached");
  check_ended(run("pcall(string.rep, 'x', 1 << 40) return 'escaped'", memory(8u << 20)),
              ErrorKind::limit, "memory limit of 8 MiB reached");
  // Just under the cap each, but never all at once.
  check_ended(
      run("local t = {} for i = 1, 100 do t[i] = ('x'):rep(6 << 20) .. i end", memory(8u << 20)),
      ErrorKind::limit, "memory limit of 8 MiB reached");
}

TEST_CASE("string.rep of empty pieces returns at once, however many") {
  const PlanOutcome outcome = run("return #string.rep('', 1 << 62) + #string.rep('', 1 << 62, '')");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "0");
  CHECK(run("return string.rep('ab', 3, ',')").text == "ab,ab,ab");
  CHECK(run("return string.rep('ab', 0)").text == "");
  CHECK(run("return #string.rep('abc', 100000, '--')").text == "499998");
}

TEST_CASE("a memory bomb by table growth cannot be caught and survived") {
  check_ended(run(R"lua(
    for round = 1, 10 do
      pcall(function() local t = {} while true do t[#t + 1] = {round} end end)
    end
    return "escaped")lua",
                  memory(8u << 20)),
              ErrorKind::limit, "memory limit of 8 MiB reached");
}

TEST_CASE("table.concat of a result larger than the heap fails before copying") {
  check_ended(run(R"lua(
    local t, s = {}, ("x"):rep(1 << 20)
    for i = 1, 100 do t[i] = s end
    return table.concat(t))lua",
                  memory(8u << 20)),
              ErrorKind::limit, "memory limit of 8 MiB reached");
  check_ended(run(R"lua(
    local t = {}
    for i = 1, 100 do t[i] = "x" end
    return table.concat(t, ("-"):rep(1 << 20)))lua",
                  memory(8u << 20)),
              ErrorKind::limit, "memory limit of 8 MiB reached");
  CHECK(run("return table.concat({1, 'b', 3.5}, ',')").text == "1,b,3.5");
  CHECK(contains(run("return table.concat({1, {}, 3})").error->message,
                 "invalid value (at index 2) in table for 'concat'"));
}

TEST_CASE("table functions stretched by a __len metamethod hit the instruction limit") {
  const char* stretched = "local t = setmetatable({}, {__len = function() return 1 << 62 end})\n";
  for (const char* call : {"table.insert(t, 1, 'x')", "table.remove(t, 1)",
                           "table.move({}, 1, 1 << 62, 1, {})", "table.concat(t)"}) {
    CAPTURE(call);
    const PlanOutcome outcome = run(std::string(stretched) + call, instructions(1'000'000));
    if (std::string(call) == "table.concat(t)") {  // fails on the first missing element
      CHECK(contains(outcome.error->message, "invalid value (at index 1)"));
    } else {
      check_ended(outcome, ErrorKind::limit, kInstructions);
    }
  }
  CHECK(run("local t = {1, 2, 3} table.insert(t, 1, 0) table.remove(t) "
            "return table.concat(table.move(t, 1, 3, 2), ',')")
            .text == "0,0,1,2");
}

TEST_CASE("a catastrophic pattern ends with the instruction limit in bounded time") {
  const auto start = Clock::now();
  const PlanOutcome outcome =
      run("return string.find(('a'):rep(30000), '.-.-.-.-b')", instructions(10'000'000));
  CHECK(Clock::now() - start < 10s);
  check_ended(outcome, ErrorKind::limit, "instruction limit of 10000000 reached");
  // gsub, gmatch and match are metered too, even inside pcall.
  for (const char* source :
       {"pcall(string.gsub, ('a'):rep(30000), '(.-)(.-)(.-)b', '') return 'escaped'",
        "for x in ('a'):rep(30000):gmatch('.-.-.-b') do end",
        "return (('a'):rep(30000)):match('(.-)(.-)(.-)b')"}) {
    CAPTURE(source);
    check_ended(run(source, instructions(10'000'000)), ErrorKind::limit,
                "instruction limit of 10000000 reached");
  }
}

TEST_CASE("a plain find is linear even for a needle built to make naive search quadratic") {
  const auto start = Clock::now();
  const PlanOutcome outcome = run(R"lua(
    local hay = ("a"):rep(4 << 20)
    local needle = ("a"):rep(2 << 20) .. "b"
    return tostring(string.find(hay, needle, 1, true)))lua",
                                  instructions(1'000'000));
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "nil");
  CHECK(Clock::now() - start < 5s);
}

TEST_CASE("runaway recursion is a script error, never a crash") {
  const PlanOutcome lua_stack = run("local function f() return 1 + f() end\nreturn f()");
  REQUIRE(lua_stack.error);
  CHECK((lua_stack.error->kind == ErrorKind::script || lua_stack.error->kind == ErrorKind::limit));
  CHECK((contains(lua_stack.error->message, "stack overflow") ||
         contains(lua_stack.error->message, "memory limit")));
  check_ended(run("local function f() return 1 + f() end\nreturn f()", memory(4u << 20)),
              ErrorKind::limit, "memory limit of 4 MiB reached");
  for (const char* source : {
           "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) return t.x",
           "local function f(s) return (s:gsub('.', f)) end return f('abc')",
           "local function f() return tostring(setmetatable({}, {__tostring = f})) end "
           "return f()",
       }) {
    CAPTURE(source);
    const PlanOutcome outcome = run(source);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::script);
    CHECK(contains(outcome.error->message, "stack overflow"));
  }
  // Recursion that catches its own overflow at every level finishes.
  const PlanOutcome caught = run("local function f() pcall(f) end f() return 'done'");
  REQUIRE_FALSE(caught.error);
  CHECK(caught.text == "done");
}

TEST_CASE("bytecode cannot be loaded or produced") {
  check_ended(run("return load('\\27Lua\\84\\0\\25\\147\\r\\n\\26\\n')"), ErrorKind::sandbox,
              "load of a binary chunk is not available in the perdiem sandbox");
  check_ended(run("return string.dump(function() end)"), ErrorKind::sandbox,
              "string.dump is not available in the perdiem sandbox");
  const PlanOutcome reader =
      run("local f, err = load(coroutine.wrap(function() coroutine.yield('\\27Lua') end))\n"
          "return tostring(f) .. ': ' .. err");
  REQUIRE_FALSE(reader.error);
  CHECK(contains(reader.text, "nil: attempt to load a binary chunk"));
}

TEST_CASE("the string metatable cannot be reached or replaced") {
  CHECK(run("return tostring(getmetatable(''))").text == "false");
  CHECK(run("return tostring(getmetatable('').__index)").error->kind == ErrorKind::script);
  const PlanOutcome replaced = run("setmetatable('', {})");
  REQUIRE(replaced.error);
  CHECK(contains(replaced.error->message, "bad argument #1 to 'setmetatable' (table expected"));
  // A plan may change the string table it was given; that is its own state only.
  CHECK(run("string.upper = function() return 'mine' end return ('x'):upper()").text == "mine");
  CHECK(run("return ('x'):upper()").text == "X");
}

TEST_CASE("setmetatable(_G, ...) and other escapes fail") {
  for (const char* source :
       {"setmetatable(_G, nil)", "setmetatable(_G, {__index = function() end})",
        "setmetatable(os, {})", "setmetatable(string, {})"}) {
    CAPTURE(source);
    const PlanOutcome outcome = run(source);
    REQUIRE(outcome.error);
    CHECK(contains(outcome.error->message, "cannot change a protected metatable"));
  }
  CHECK(run("return tostring(getmetatable(_G))").text == "false");
  // A global the plan sets itself under a forbidden name is just its own value.
  CHECK(run("rawset(_G, 'io', 'mine') return io").text == "mine");
  check_ended(run("rawset(_G, 'io', nil) return io.open"), ErrorKind::sandbox,
              "io is not available in the perdiem sandbox");
  check_ended(run("setmetatable({}, {__gc = function() while true do end end})"),
              ErrorKind::sandbox, "a __gc metamethod is not available in the perdiem sandbox");
}

TEST_CASE("collectgarbage answers count and refuses the rest") {
  CHECK(run("return math.type(collectgarbage('count'))").text == "float");
  for (const char* option : {"stop", "collect", "step", "incremental", "generational"}) {
    CAPTURE(option);
    check_ended(
        run(std::string("collectgarbage('") + option + "')"), ErrorKind::sandbox,
        std::string("collectgarbage(\"") + option + "\") is not available in the perdiem sandbox");
  }
}

TEST_CASE("io, os, debug and package.loadlib are refused by name") {
  const std::pair<const char*, const char*> reaches[] = {
      {"return io.open('/etc/passwd')", "io"},
      {"return os.execute('id')", "os.execute"},
      {"return os.getenv('HOME')", "os.getenv"},
      {"return debug.getregistry()", "debug"},
      {"return package.loadlib('libc.so.6', 'system')", "package"},
      {"return dofile('/etc/passwd')", "dofile"},
      {"return loadfile('/etc/passwd')", "loadfile"},
  };
  for (const auto& [source, name] : reaches) {
    CAPTURE(source);
    check_ended(run(source), ErrorKind::sandbox,
                std::string(name) + " is not available in the perdiem sandbox");
  }
}

TEST_CASE("the cancellation flag ends a busy plan with kind cancelled") {
  std::atomic<bool> cancel{false};
  PlanHost host = make_host();
  host.cancel = &cancel;
  PlanLimits limits;
  limits.instruction_limit = 0;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    cancel = true;
  });
  const PlanOutcome outcome =
      run("while true do pcall(function() while true do end end) end", limits, host);
  canceller.join();
  check_ended(outcome, ErrorKind::cancelled, "the run was cancelled");
}

TEST_CASE("a cancelled plan makes no further model call") {
  std::atomic<bool> cancel{true};
  int calls = 0;
  PlanHost host = make_host();
  host.cancel = &cancel;
  host.chat = [&](const ChatRequest&) -> Result<ChatResponse> {
    ++calls;
    return ChatResponse{};
  };
  const PlanOutcome outcome =
      run("pcall(model.chat, {messages = {{role = 'user', content = 'x'}}}) return 'escaped'",
          PlanLimits{}, host);
  check_ended(outcome, ErrorKind::cancelled, "the run was cancelled");
  CHECK(calls == 0);
}

TEST_CASE("sleep yields to the host and is cut at the deadline") {
  auto fake_now = Clock::time_point{};
  std::vector<std::chrono::nanoseconds> sleeps;
  PlanHost host = make_host();
  host.monotonic_time = [&] { return fake_now; };
  host.sleep = [&](std::chrono::nanoseconds duration) {
    sleeps.push_back(duration);
    fake_now += duration;
    return Status::success();
  };
  PlanLimits limits;
  limits.deadline = 2500ms;
  const PlanOutcome outcome =
      run("sleep(1) sleep(0.5)\nlocal ok = pcall(sleep, 10)\nreturn 'escaped'", limits, host);
  check_ended(outcome, ErrorKind::limit, "deadline of 2.5 s passed");
  CHECK(outcome.error->source == "plan.lua:2");
  REQUIRE(sleeps.size() == 3);
  CHECK(sleeps[0] == 1s);
  CHECK(sleeps[1] == 500ms);
  CHECK(sleeps[2] == 1s);  // what was left of the deadline, not 10 s
}

TEST_CASE("the default sleep waits on this thread and respects the deadline") {
  PlanLimits limits;
  limits.deadline = 100ms;
  const auto start = Clock::now();
  const PlanOutcome outcome = run("sleep(0.01) sleep(3600)", limits);
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed >= 100ms);
  CHECK(elapsed < 5s);
  check_ended(outcome, ErrorKind::limit, "deadline of 100 ms passed");
}

TEST_CASE("the default sleep wakes early when the run is cancelled") {
  std::atomic<bool> cancel{false};
  PlanHost host = make_host();
  host.cancel = &cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(50ms);
    cancel = true;
  });
  const auto start = Clock::now();
  const PlanOutcome outcome = run("sleep(3600)", PlanLimits{}, host);
  canceller.join();
  CHECK(Clock::now() - start < 5s);
  check_ended(outcome, ErrorKind::cancelled, "the run was cancelled");
}

TEST_CASE("sleep checks its argument and works where the plan cannot yield") {
  for (const char* source : {"sleep(-1)", "sleep(0/0)", "sleep(math.huge)", "sleep('x')"}) {
    CAPTURE(source);
    const PlanOutcome outcome = run(source);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::script);
  }
  std::vector<std::chrono::nanoseconds> sleeps;
  PlanHost host = make_host();
  host.sleep = [&](std::chrono::nanoseconds duration) {
    sleeps.push_back(duration);
    return Status::success();
  };
  const PlanOutcome outcome = run(R"lua(
    local co = coroutine.wrap(function() sleep(0.25) return "slept" end)
    table.sort({2, 1}, function(a, b) sleep(0) return a < b end)
    return co())lua",
                                  PlanLimits{}, host);
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "slept");
  REQUIRE(sleeps.size() >= 2);
  CHECK(sleeps[0] == 0ns);
  CHECK(sleeps.back() == 250ms);
}

TEST_CASE("a host sleep error reaches the plan as a catchable error table") {
  PlanHost host = make_host();
  host.sleep = [](std::chrono::nanoseconds) -> Status {
    return perdiem::make_error(ErrorKind::internal, "timer wheel is broken");
  };
  const PlanOutcome outcome = run(
      "local ok, err = pcall(sleep, 1) return err.kind .. ': ' .. err.message", PlanLimits{}, host);
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "internal: timer wheel is broken");
}

TEST_CASE("time.now is the host's Unix time") {
  PlanHost host = make_host();
  host.unix_time = [] { return 1700000000.25; };
  CHECK(run("return time.now()", PlanLimits{}, host).text == "1700000000.25");
  const PlanOutcome real = run("return time.now()");
  REQUIRE_FALSE(real.error);
  CHECK(std::stod(real.text) > 1.6e9);
}

TEST_CASE("hostile plans on several threads end alone; a normal plan beside them finishes") {
  std::vector<PlanOutcome> outcomes(4);
  std::vector<std::thread> threads;
  const char* sources[] = {"while true do end", "local t = {} while true do t[#t + 1] = t end",
                           "return string.find(('a'):rep(30000), '.-.-.-.-b')",
                           "local n = 0 for i = 1, 1000 do n = n + i end return n"};
  PlanLimits limits = instructions(5'000'000);
  limits.memory_limit_bytes = 8u << 20;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { outcomes[i] = run(sources[i], limits); });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(outcomes[0].error->message == "instruction limit of 5000000 reached");
  CHECK(outcomes[1].error->message == "memory limit of 8 MiB reached");
  CHECK(outcomes[2].error->message == "instruction limit of 5000000 reached");
  REQUIRE_FALSE(outcomes[3].error);
  CHECK(outcomes[3].text == "500500");
}

TEST_CASE("a deadline that passes during a model call ends the plan when the call returns") {
  auto fake_now = Clock::time_point{};
  PlanHost host = make_host();
  host.monotonic_time = [&] { return fake_now; };
  int calls = 0;
  host.chat = [&](const ChatRequest&) -> Result<ChatResponse> {
    ++calls;
    fake_now += 3s;  // a slow provider
    ChatResponse response;
    response.content = "late";
    return response;
  };
  PlanLimits limits;
  limits.deadline = 2s;
  const PlanOutcome outcome = run(R"lua(
    local ok, reply = pcall(model.chat, {messages = {{role = "user", content = "x"}}})
    return reply.content)lua",
                                  limits, host);
  check_ended(outcome, ErrorKind::limit, "deadline of 2 s passed");
  CHECK(calls == 1);
}
