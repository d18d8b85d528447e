// Background runs on the scheduler: agents share a few event-loop threads, a sleeping
// agent holds no thread, a busy one is preempted rather than starving the others, and
// cancellation reaches agents whatever they are waiting on.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"
#include "perdiem/routing.hpp"
#include "tests/support/threads.hpp"

using namespace perdiem;
using perdiem::testing::thread_count;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<Runtime> runtime_with_threads(unsigned threads) {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.scheduler_threads = threads;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());
  return std::move(*runtime);
}

}  // namespace

TEST_CASE("2,000 sleeping agents on one scheduler thread hold no thread each, and all wake") {
  auto runtime = runtime_with_threads(1);
  const int before = thread_count();
  std::vector<std::shared_ptr<RunHandle>> runs;
  for (int i = 0; i < 2000; ++i) {
    RunOptions options;
    options.args = {std::to_string(i)};
    runs.push_back(
        runtime->start_script("sleep(0.3) return 'woke ' .. agent.args[1]", "nap.lua", options));
  }
  std::this_thread::sleep_for(100ms);  // all started and asleep
  // One loop thread and a few pool threads, not one per agent.
  CHECK(thread_count() - before < 50);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 2000; ++i) {
    const RunResult& result = runs[static_cast<std::size_t>(i)]->wait();
    REQUIRE_MESSAGE(result.ok(), result.error->describe());
    CHECK(result.text == "woke " + std::to_string(i));
  }
  // Timers, not 2,000 sleeps in a row.
  CHECK(std::chrono::steady_clock::now() - start < 20s);
}

TEST_CASE("a busy agent is preempted: another on the same thread finishes meanwhile") {
  auto runtime = runtime_with_threads(1);
  RunOptions forever;
  forever.instruction_limit = 0;  // only cancellation stops it
  auto spinning = runtime->start_script("while true do end", "spin.lua", forever);
  auto counting = runtime->start_script("local n = 0 for i = 1, 200000 do n = n + i end return n",
                                        "count.lua", {});
  const auto counted = counting->wait_for(20s);
  REQUIRE(counted.has_value());
  REQUIRE_MESSAGE(counted->ok(), counted->error->describe());
  CHECK(counted->text == "20000100000");
  CHECK_FALSE(spinning->done());
  spinning->cancel();
  const RunResult& spun = spinning->wait();
  REQUIRE_FALSE(spun.ok());
  CHECK(spun.error->kind == ErrorKind::cancelled);
}

TEST_CASE("sleeping in parallel or in a coroutine holds no thread: another agent finishes") {
  for (const char* plan :
       {"parallel(function() sleep(60) end, function() sleep(60) end) return 'woke'",
        "coroutine.wrap(function() sleep(60) end)() return 'woke'"}) {
    CAPTURE(plan);
    auto runtime = runtime_with_threads(1);
    auto sleeping = runtime->start_script(plan, "nap.lua", {});
    std::this_thread::sleep_for(100ms);  // asleep
    auto quick = runtime->start_script("return 'quick'", "quick.lua", {});
    const auto answered = quick->wait_for(20s);
    REQUIRE(answered.has_value());
    REQUIRE_MESSAGE(answered->ok(), answered->error->describe());
    CHECK(answered->text == "quick");
    CHECK_FALSE(sleeping->done());
    sleeping->cancel();
    const RunResult& slept = sleeping->wait();
    REQUIRE_FALSE(slept.ok());
    CHECK(slept.error->kind == ErrorKind::cancelled);
  }
}

TEST_CASE("agents making model calls and sleeping interleave on two threads") {
  auto runtime = runtime_with_threads(2);
  const std::string plan =
      "local out = {}\n"
      "for i = 1, 3 do\n"
      "  local r = model.chat{messages={{role='user', content='reply with exactly: ' .. "
      "agent.args[1] .. '.' .. i}}}\n"
      "  out[#out + 1] = r.content\n"
      "  sleep(0.01)\n"
      "end\n"
      "return table.concat(out, ',')\n";
  std::vector<std::shared_ptr<RunHandle>> runs;
  for (int i = 0; i < 200; ++i) {
    RunOptions options;
    options.args = {std::to_string(i)};
    runs.push_back(runtime->start_script(plan, "agent.lua", options));
  }
  for (int i = 0; i < 200; ++i) {
    const RunResult& result = runs[static_cast<std::size_t>(i)]->wait();
    REQUIRE_MESSAGE(result.ok(), result.error->describe());
    const std::string n = std::to_string(i);
    CHECK(result.text == n + ".1," + n + ".2," + n + ".3");
    CHECK(result.usage.model_calls == 3);
  }
}

TEST_CASE("a cancelled sleeping agent ends promptly with kind cancelled") {
  auto runtime = runtime_with_threads(1);
  auto sleeping = runtime->start_script("sleep(60) return 'woke'", "nap.lua", {});
  std::this_thread::sleep_for(50ms);
  const auto cancelled_at = std::chrono::steady_clock::now();
  sleeping->cancel();
  const RunResult& result = sleeping->wait();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error->kind == ErrorKind::cancelled);
  CHECK(std::chrono::steady_clock::now() - cancelled_at < 5s);
}

TEST_CASE("destroying the runtime cancels the agents still running and waits for them") {
  auto runtime = runtime_with_threads(1);
  auto sleeping = runtime->start_script("sleep(60) return 'woke'", "nap.lua", {});
  RunOptions forever;
  forever.instruction_limit = 0;
  auto spinning = runtime->start_script("while true do end", "spin.lua", forever);
  std::this_thread::sleep_for(50ms);
  runtime.reset();
  REQUIRE(sleeping->done());
  REQUIRE(spinning->done());
  CHECK(sleeping->wait().error->kind == ErrorKind::cancelled);
  CHECK(spinning->wait().error->kind == ErrorKind::cancelled);
}

TEST_CASE("a 429 is retried after its Retry-After on a timer: the loop's other agents go on") {
  MockProviderOptions flaky;
  flaky.fail_first = 1;
  flaky.fail_status = 429;
  flaky.retry_after_seconds = 1;
  auto server = MockProvider::start(flaky);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().describe()));
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.scheduler_threads = 1;  // the caller and the sleeper share one loop thread
  ProviderEndpoint endpoint;
  endpoint.name = "flaky";
  endpoint.base_url = (*server)->base_url();
  options.routing.providers = {endpoint};
  ModelRoute route;
  route.name = "m";
  route.targets = {{"flaky", "sim-1"}};
  options.routing.models = {route};
  options.routing.retries = 1;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());

  const auto start = std::chrono::steady_clock::now();
  auto caller = (*runtime)->start_script(
      "return model.chat{model='m', messages={{role='user', content='hi'}}}.provider",
      "caller.lua", {});
  auto sleeper = (*runtime)->start_script("for i = 1, 3 do sleep(0.05) end return 'rested'",
                                          "sleeper.lua", {});
  const RunResult& rested = sleeper->wait();
  const auto sleeper_done = std::chrono::steady_clock::now() - start;
  const RunResult& answered = caller->wait();
  const auto caller_done = std::chrono::steady_clock::now() - start;
  REQUIRE_MESSAGE(answered.ok(), answered.error->describe());
  CHECK(answered.text == "flaky");
  CHECK(answered.usage.model_calls == 1);
  CHECK((*server)->requests_served() == 2);  // the 429, then the answer
  CHECK((*server)->requests_with_status(429) == 1);
  CHECK(caller_done >= 1s);  // the Retry-After was honoured
  REQUIRE(rested.ok());
  CHECK(rested.text == "rested");
  // The sleeper was not stuck behind the backoff on their shared thread.
  CHECK(sleeper_done < caller_done);
}

TEST_CASE("a slow host tool runs off the loop thread: another agent on it finishes meanwhile") {
  // Called from the plan's body, and from a parallel branch (which parks it as well).
  for (const char* plan :
       {"return tostring(tool.call('slow.lookup', {}).found)",
        "local found, other = parallel(function() return tool.call('slow.lookup', {}).found end,\n"
        "                              function() return 1 end)\n"
        "return tostring(found)"}) {
    CAPTURE(plan);
    RuntimeOptions options;
    options.provider.provider = "sim";
    options.provider.use_environment = false;
    options.scheduler_threads = 1;
    std::atomic<bool> release{false};
    HostTool slow;
    slow.name = "slow.lookup";
    slow.parameters_json = R"({"type":"object"})";
    slow.handler = [&release](const std::string&) -> Result<std::string> {
      while (!release) std::this_thread::sleep_for(1ms);
      return std::string(R"({"found":true})");
    };
    options.tools.push_back(slow);
    auto created = Runtime::create(std::move(options));
    REQUIRE_MESSAGE(created.ok(), created.error().describe());
    auto runtime = std::move(*created);
    auto waiting = runtime->start_script(plan, "tool.lua", {});
    std::this_thread::sleep_for(50ms);  // the tool call is under way
    // The only loop thread is free: this agent runs, calls the model and finishes.
    auto quick = runtime->start_script(
        "return model.chat{messages={{role='user', content='reply with exactly: quick'}}}.content",
        "quick.lua", {});
    // Bounded: were the tool on the loop thread, this agent could not run until released.
    std::optional<RunResult> quick_result = quick->wait_for(20s);
    const bool tool_still_running = !waiting->done();
    release = true;
    REQUIRE(quick_result.has_value());
    REQUIRE_MESSAGE(quick_result->ok(), quick_result->error->describe());
    CHECK(quick_result->text == "quick");
    CHECK(tool_still_running);
    const RunResult& waited = waiting->wait();
    REQUIRE_MESSAGE(waited.ok(), waited.error->describe());
    CHECK(waited.text == "true");
  }
}
