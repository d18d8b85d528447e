// Hostile agents beside a normal one in one runtime, all started at once as background
// runs, so they go through the real scheduler (coroutines on shared event-loop threads)
// rather than run_plan on a thread of their own (tests/unit/lua/hostile_test.cpp). Each
// hostile agent must end alone with its own error, and the normal agent must finish.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "perdiem/perdiem.hpp"

using namespace perdiem;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct Hostile {
  const char* name;
  const char* source;
  ErrorKind kind;
  // The error's message is exactly this, or (script errors, which carry a traceback)
  // contains it.
  const char* message;
  bool exact;
};

}  // namespace

TEST_CASE("hostile agents on the scheduler end alone while a normal agent beside them finishes") {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.provider.sim_latency_ms = 20;  // the normal agent waits on the loop meanwhile
  // One event-loop thread for every agent: a spinning or allocating agent shares it
  // with the normal one, the harshest case for "alone".
  options.scheduler_threads = 1;
  auto created = Runtime::create(std::move(options));
  REQUIRE(created.ok());
  Runtime& runtime = **created;

  auto normal = runtime.start_script(
      "local out = {}\n"
      "for i = 1, 5 do\n"
      "  out[i] = model.chat{messages={{role='user', content='reply with exactly: n' .. i}}}"
      ".content\n"
      "end\n"
      "return table.concat(out, ',')\n",
      "normal.lua", {});

  const std::vector<Hostile> hostiles = {
      {"infinite loop", "while true do end", ErrorKind::limit,
       "instruction limit of 5000000 reached", true},
      {"string.rep bomb", "local s = string.rep('x', 2^40)", ErrorKind::limit,
       "memory limit of 8 MiB reached", true},
      {"table growth", "local t = {} local i = 0 while true do i = i + 1 t[i] = i end",
       ErrorKind::limit, "memory limit of 8 MiB reached", true},
      {"runaway recursion", "local function f() return 1 + f() end return f()", ErrorKind::limit,
       "memory limit of 8 MiB reached", true},
      {"string.dump", "return load(string.dump(function() end))", ErrorKind::sandbox,
       "string.dump is not available in the perdiem sandbox", true},
      {"binary chunk", "return load('\\27Lua\\84\\0\\25\\147\\r\\n\\26\\n')", ErrorKind::sandbox,
       "load of a binary chunk is not available in the perdiem sandbox", true},
      // getmetatable('') is false, so there is no __index to replace.
      {"string metatable", "getmetatable('').__index = {}", ErrorKind::script,
       "attempt to index a boolean value", false},
      {"setmetatable on a string", "setmetatable('', {})", ErrorKind::script,
       "bad argument #1 to 'setmetatable' (table expected, got string)", false},
      {"io", "return io.open('/etc/passwd')", ErrorKind::sandbox,
       "io is not available in the perdiem sandbox", true},
      {"os.execute", "return os.execute('id')", ErrorKind::sandbox,
       "os.execute is not available in the perdiem sandbox", true},
      {"debug", "return debug.getregistry()", ErrorKind::sandbox,
       "debug is not available in the perdiem sandbox", true},
      {"package.loadlib", "return package.loadlib('libc.so.6', 'system')", ErrorKind::sandbox,
       "package is not available in the perdiem sandbox", true},
      {"collectgarbage", "collectgarbage('collect')", ErrorKind::sandbox,
       "collectgarbage(\"collect\") is not available in the perdiem sandbox", true},
      {"_G metatable", "setmetatable(_G, {__index = function() end})", ErrorKind::script,
       "cannot change a protected metatable", false},
  };

  // Small limits so the limit cases end quickly; the normal agent keeps the defaults.
  RunOptions hostile_options;
  hostile_options.instruction_limit = 5'000'000;
  hostile_options.memory_limit_bytes = 8u << 20;
  std::vector<std::shared_ptr<RunHandle>> runs;
  for (const Hostile& hostile : hostiles) {
    runs.push_back(runtime.start_script(hostile.source, "hostile.lua", hostile_options));
  }
  // A spinner with no instruction limit, stopped only by its wall-clock deadline.
  RunOptions deadline_options;
  deadline_options.instruction_limit = 0;
  deadline_options.timeout = 200ms;
  auto spinner = runtime.start_script("while true do end", "spin.lua", deadline_options);

  for (std::size_t i = 0; i < hostiles.size(); ++i) {
    CAPTURE(hostiles[i].name);
    const auto result = runs[i]->wait_for(60s);
    REQUIRE(result.has_value());
    REQUIRE_FALSE(result->ok());
    CHECK(result->error->kind == hostiles[i].kind);
    if (hostiles[i].exact) {
      CHECK(result->error->message == hostiles[i].message);
    } else {
      CHECK(contains(result->error->message, hostiles[i].message));
    }
    CHECK(result->text.empty());
  }
  const auto spun = spinner->wait_for(60s);
  REQUIRE(spun.has_value());
  REQUIRE_FALSE(spun->ok());
  CHECK(spun->error->kind == ErrorKind::limit);
  CHECK(spun->error->message == "deadline of 200 ms passed");

  const auto answered = normal->wait_for(60s);
  REQUIRE(answered.has_value());
  REQUIRE_MESSAGE(answered->ok(), (answered->ok() ? "" : answered->error->describe()));
  CHECK(answered->text == "n1,n2,n3,n4,n5");
  CHECK(answered->usage.model_calls == 5);
}
