// agent.spawn through the Runtime: a sub-agent in its own run returns its value to the
// parent; its failure is catchable; budgets are carved from the parent's; names are
// resolved like require; nesting is bounded; sub-agents are agents on the scheduler,
// holding no thread each.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "counting_model.hpp"
#include "perdiem/perdiem.hpp"
#include "tests/support/threads.hpp"

using namespace perdiem;
using namespace std::chrono_literals;

namespace {

struct PlanDir {
  PlanDir() {
    char tmpl[] = "/tmp/perdiem-spawn-test-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~PlanDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string write(const std::string& name, const std::string& source) const {
    const std::string file = path + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    std::ofstream(file) << source;
    return file;
  }
  std::string path;
};

std::unique_ptr<Runtime> sim_runtime(std::function<void(LogLevel, std::string_view)> on_log = {},
                                     std::function<void(const RunEvent&)> on_run = {}) {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  options.on_log = std::move(on_log);
  options.on_run = std::move(on_run);
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());
  return std::move(*runtime);
}

// The plan run on the app's thread, then as a background run: sub-agents must behave the
// same in both.
std::vector<RunResult> run_both_ways(Runtime& runtime, const std::string& plan,
                                     const RunOptions& options = {}) {
  std::vector<RunResult> results;
  results.push_back(runtime.run_file(plan, options));
  results.push_back(runtime.start_file(plan, options)->wait());
  for (const RunResult& result : results) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  }
  return results;
}

// Counts the plans' log lines "awaiting", which the plans below write just before they
// await: once `count` have, their awaits are waiting (the await follows in the same
// resume of the plan's coroutine; the short sleep covers the rest of it).
struct AwaitingLog {
  std::function<void(LogLevel, std::string_view)> sink() {
    return [this](LogLevel, std::string_view line) {
      if (line.find("awaiting") != std::string_view::npos) ++seen;
    };
  }
  void wait_for(int count) const {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    while (seen.load() < count && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(seen.load() >= count);
    std::this_thread::sleep_for(50ms);
  }
  std::atomic<int> seen{0};
};

}  // namespace

TEST_CASE("a sub-agent runs in its own run and returns its value to the parent") {
  PlanDir dir;
  dir.write("agents/worker.lua",
            "local reply = model.chat{messages={{role='user', content=agent.args[1]}}}\n"
            "return {echo = agent.args[1], n = #agent.args, run = agent.run_id,"
            " answer = reply.content}");
  const std::string parent = dir.write(
      "parent.lua",
      "local child = agent.spawn('agents.worker', {'hello', 42})\n"
      "local value, meta = child:await()\n"
      "return {echo = value.echo, n = value.n, child_run = value.run, meta_run = meta.run_id,"
      " parent_run = agent.run_id, answered = value.answer ~= nil, cost = meta.cost_nanos}");
  auto runtime = sim_runtime();
  RunResult result = runtime->run_file(parent, {});
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  CHECK(result.json.find("\"echo\":\"hello\"") != std::string::npos);
  CHECK(result.json.find("\"n\":2") != std::string::npos);
  CHECK(result.json.find("\"answered\":true") != std::string::npos);
  // The child ran under its own run id, which the parent learns from both sides.
  const auto field = [&](const std::string& key) {
    const std::size_t at = result.json.find("\"" + key + "\":\"");
    REQUIRE(at != std::string::npos);
    const std::size_t start = at + key.size() + 4;
    return result.json.substr(start, result.json.find('"', start) - start);
  };
  CHECK(field("child_run") == field("meta_run"));
  CHECK(field("child_run") != field("parent_run"));
  CHECK(field("parent_run") == result.run_id);
}

TEST_CASE("a sub-agent's failure is an error table the parent can catch") {
  PlanDir dir;
  dir.write("failing.lua", "error({kind = 'tool', message = 'no such page'})");
  const std::string parent = dir.write("parent.lua",
                                       "local child = agent.spawn('failing')\n"
                                       "local ok, err = pcall(child.await, child)\n"
                                       "return {ok = ok, kind = err.kind, message = err.message}");
  auto runtime = sim_runtime();
  RunResult result = runtime->run_file(parent, {});
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  CHECK(result.json.find("\"ok\":false") != std::string::npos);
  CHECK(result.json.find("agent.spawn(\\\"failing\\\")") != std::string::npos);
}

TEST_CASE("a sub-agent's budget is carved from what the parent has left, and given back") {
  PlanDir dir;
  dir.write("worker.lua", "return 'done'");
  // $0.008 of the parent's $0.01 carved twice: the second fits only because the first
  // child's unspent carve came back when it was awaited.
  const std::string parent =
      dir.write("parent.lua",
                "local ok, err = pcall(agent.spawn, 'worker', {}, {budget = 1})\n"
                "local fits = agent.spawn('worker', {}, {budget = 0.008}):await()\n"
                "local again = agent.spawn('worker', {}, {budget = 0.008}):await()\n"
                "return {refused = err.kind, fits = fits, again = again}");
  auto runtime = sim_runtime();
  RunOptions options;
  options.budget = 10'000'000;  // $0.01
  for (const RunResult& result : run_both_ways(*runtime, parent, options)) {
    CHECK(result.json == R"({"again":"done","fits":"done","refused":"budget_exceeded"})");
  }
}

TEST_CASE("spawn names resolve like require, and nesting is bounded") {
  PlanDir dir;
  dir.write("self.lua", "return agent.spawn('self'):await()");
  const std::string parent =
      dir.write("parent.lua",
                "local results = {}\n"
                "for _, name in ipairs({'../etc/passwd', 'missing', '/tmp/x'}) do\n"
                "  local ok, err = pcall(agent.spawn, name)\n"
                "  results[#results + 1] = err.kind\n"
                "end\n"
                "local ok, err = pcall(function() return agent.spawn('self'):await() end)\n"
                "results[#results + 1] = err.kind\n"
                "results[#results + 1] = select(2, pcall(agent.spawn, 'self', 'x'))\n"
                "return results");
  auto runtime = sim_runtime();
  RunResult result = runtime->run_file(parent, {});
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  CHECK(result.json.find("[\"sandbox\",\"not_found\",\"sandbox\",\"limit\"") == 0);
  CHECK(result.json.find("args must be a list") != std::string::npos);
}

TEST_CASE("sub-agents run at once, and an unawaited one is cancelled with its parent") {
  PlanDir dir;
  dir.write("worker.lua",
            "return model.chat{messages={{role='user', content=agent.args[1]}}}.content");
  dir.write("spinner.lua", "while true do end");
  const std::string parent =
      dir.write("parent.lua",
                "local children = {}\n"
                "for i = 1, 4 do children[i] = agent.spawn('worker', {'w' .. i}) end\n"
                "agent.spawn('spinner')  -- never awaited\n"
                "local answers = {}\n"
                "for i, child in ipairs(children) do answers[i] = child:await() end\n"
                "return table.concat(answers, ',')");
  auto model = std::make_shared<testing::CountingModel>(std::chrono::milliseconds(50));
  RuntimeOptions options;
  options.host_provider = model;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());
  RunResult result = (*runtime)->run_file(parent, {});
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  CHECK(result.text == "re:w1,re:w2,re:w3,re:w4");
  CHECK(model->max_in_flight.load() >= 2);
}

TEST_CASE("sub-agents are agents on the scheduler: forty asleep at once hold no thread each") {
  PlanDir dir;
  dir.write("napper.lua", "sleep(0.5) return 'woke ' .. agent.args[1]");
  const std::string parent =
      dir.write("parent.lua",
                "local children = {}\n"
                "for i = 1, 40 do children[i] = agent.spawn('napper', {tostring(i)}) end\n"
                "log('awaiting')\n"
                "local answers = {}\n"
                "for i, child in ipairs(children) do answers[i] = child:await() end\n"
                "return answers[1] .. ',' .. answers[40] .. ',' .. #answers");
  AwaitingLog awaiting;
  auto runtime = sim_runtime(awaiting.sink());
  runtime->start_script("return 1", "warm.lua", {})->wait();  // the scheduler's threads exist
  for (const bool scheduled_parent : {true, false}) {
    CAPTURE(scheduled_parent);
    const int before = testing::thread_count();
    std::shared_ptr<RunHandle> background;
    std::thread app_thread;
    RunResult synchronous;
    if (scheduled_parent) {
      background = runtime->start_file(parent, {});
    } else {
      app_thread = std::thread([&] { synchronous = runtime->run_file(parent, {}); });
    }
    awaiting.wait_for(scheduled_parent ? 1 : 2);  // every child started, and asleep
    // The app's thread at most, not a thread per sub-agent (there were 40).
    CHECK(testing::thread_count() - before < 15);
    if (!scheduled_parent) app_thread.join();
    const RunResult& result = scheduled_parent ? background->wait() : synchronous;
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
    CHECK(result.text == "woke 1,woke 40,40");
  }
}

TEST_CASE(
    "child:await() inside a callback is refused in every run; a branch or a coroutine awaits it "
    "as the body does") {
  PlanDir dir;
  dir.write("worker.lua", "return 'done'");
  const std::string parent = dir.write(
      "parent.lua",
      "local child = agent.spawn('worker')\n"
      "local _, in_branch = pcall(parallel, function() return child:await() end)\n"
      "local _, in_coroutine = pcall(coroutine.wrap(function() return child:await() end))\n"
      "local _, in_callback = pcall(table.sort, {1, 2}, function(a, b)"
      " child:await() return a < b end)\n"
      "return {branch = in_branch, coroutine = in_coroutine,"
      " callback = in_callback.kind, message = in_callback.message, later = child:await()}");
  auto runtime = sim_runtime();
  for (const RunResult& result : run_both_ways(*runtime, parent)) {
    CHECK(result.json.find(R"("branch":"done","callback":"script","coroutine":"done")") !=
          std::string::npos);
    CHECK(result.json.find("after the callback returns") != std::string::npos);
    CHECK(result.json.find(R"("later":"done")") != std::string::npos);
  }
}

TEST_CASE("a hundred background runs awaiting a sub-agent each hold no thread while they wait") {
  PlanDir dir;
  dir.write("napper.lua", "sleep(0.5) return 'woke'");
  const std::string parent = dir.write(
      "parent.lua", "local child = agent.spawn('napper') log('awaiting') return child:await()");
  AwaitingLog awaiting;
  auto runtime = sim_runtime(awaiting.sink());
  runtime->start_script("return 1", "warm.lua", {})->wait();  // the scheduler's threads exist
  const int before = testing::thread_count();
  std::vector<std::shared_ptr<RunHandle>> parents;
  for (int i = 0; i < 100; ++i) parents.push_back(runtime->start_file(parent, {}));
  awaiting.wait_for(100);
  // The awaits were blocking-pool jobs: a hundred threads.
  CHECK(testing::thread_count() - before < 15);
  for (auto& run : parents) {
    const RunResult& result = run->wait();
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
    CHECK(result.text == "woke");
  }
}

TEST_CASE("cancelling a background run that awaits a sub-agent cancels it, and its own") {
  PlanDir dir;
  dir.write("sleeper.lua", "sleep(30) return 'late'");
  dir.write("middle.lua",
            "local child = agent.spawn('sleeper') log('awaiting') return child:await()");
  const std::string parent = dir.write(
      "parent.lua", "local child = agent.spawn('middle') log('awaiting') return child:await()");
  AwaitingLog awaiting;
  auto runtime = sim_runtime(awaiting.sink());
  auto run = runtime->start_file(parent, {});
  awaiting.wait_for(2);  // the parent awaits the middle run, which awaits the sleeper
  const auto cancelled_at = std::chrono::steady_clock::now();
  run->cancel();
  const std::optional<RunResult> result = run->wait_for(10s);
  REQUIRE(result.has_value());
  CHECK(std::chrono::steady_clock::now() - cancelled_at < 5s);  // not the sleeper's 30 s
  REQUIRE(!result->ok());
  CHECK(result->error->kind == ErrorKind::cancelled);
}

// Both ways: a run on the app's thread waits for the sub-agent plainly, which its own
// deadline (capped at the parent's by spawn) ends in time.
TEST_CASE("a run awaiting a sub-agent ends at its own deadline, the sub-agent too") {
  PlanDir dir;
  dir.write("sleeper.lua", "sleep(30) return 'late'");
  const std::string parent = dir.write("parent.lua", "return agent.spawn('sleeper'):await()");
  auto runtime = sim_runtime();
  RunOptions options;
  options.timeout = 300ms;
  for (const bool background : {true, false}) {
    CAPTURE(background);
    const auto started = std::chrono::steady_clock::now();
    const std::optional<RunResult> result =
        background ? runtime->start_file(parent, options)->wait_for(10s)
                   : std::optional<RunResult>(runtime->run_file(parent, options));
    REQUIRE(result.has_value());
    CHECK(std::chrono::steady_clock::now() - started < 5s);
    REQUIRE(!result->ok());
    CHECK(result->error->kind == ErrorKind::limit);
  }
}

TEST_CASE("destroying the runtime while background runs await sub-agents ends them all") {
  PlanDir dir;
  dir.write("sleeper.lua", "sleep(30) return 'late'");
  const std::string parent = dir.write(
      "parent.lua", "local child = agent.spawn('sleeper') log('awaiting') return child:await()");
  AwaitingLog awaiting;
  auto runtime = sim_runtime(awaiting.sink());
  std::vector<std::shared_ptr<RunHandle>> parents;
  for (int i = 0; i < 20; ++i) parents.push_back(runtime->start_file(parent, {}));
  awaiting.wait_for(20);
  const auto destroyed_at = std::chrono::steady_clock::now();
  runtime.reset();
  CHECK(std::chrono::steady_clock::now() - destroyed_at < 5s);  // not the sleepers' 30 s
  for (auto& run : parents) {
    REQUIRE(run->done());
    CHECK(run->wait().error->kind == ErrorKind::cancelled);
  }
}

// RuntimeOptions::on_run: what the command's progress line counts as agents running.
TEST_CASE("on_run reports each agent's start and end, a sub-agent's inside its parent's") {
  PlanDir dir;
  dir.write("child.lua", "model.chat{messages={{role='user', content='hi'}}}\nreturn 'child'");
  dir.write("failing.lua", "error({kind = 'tool', message = 'no such page'})");
  const std::string parent = dir.write("parent.lua",
                                       "local child = agent.spawn('child')\n"
                                       "local failing = agent.spawn('failing')\n"
                                       "pcall(failing.await, failing)\n"
                                       "return child:await()");
  std::mutex mutex;
  std::vector<RunEvent> events;
  auto runtime = sim_runtime({}, [&](const RunEvent& event) {
    std::lock_guard lock(mutex);
    events.push_back(event);
  });
  const std::vector<RunResult> results = run_both_ways(*runtime, parent);
  std::lock_guard lock(mutex);
  REQUIRE(events.size() == 12);  // three runs, started and finished, both ways
  for (int way = 0; way < 2; ++way) {
    CAPTURE(way);
    const std::vector<RunEvent> mine(events.begin() + way * 6, events.begin() + way * 6 + 6);
    const std::string& top = results[static_cast<std::size_t>(way)].run_id;
    // The parent starts first and finishes last, after both its sub-agents.
    CHECK(mine.front().run_id == top);
    CHECK(mine.front().phase == RunPhase::started);
    CHECK(mine.front().depth == 0);
    CHECK(mine.front().parent_run_id.empty());
    CHECK(mine.back().run_id == top);
    CHECK(mine.back().phase == RunPhase::finished);
    CHECK_FALSE(mine.back().error.has_value());
    int children_started = 0, children_finished = 0, failed = 0;
    for (std::size_t i = 1; i + 1 < mine.size(); ++i) {
      const RunEvent& event = mine[i];
      CHECK(event.run_id != top);
      CHECK(event.depth == 1);
      CHECK(event.parent_run_id == top);
      if (event.phase == RunPhase::started) {
        ++children_started;
        continue;
      }
      ++children_finished;
      // Each child's start came before its end.
      bool started_before = false;
      for (std::size_t j = 0; j < i; ++j)
        started_before |= mine[j].run_id == event.run_id && mine[j].phase == RunPhase::started;
      CHECK(started_before);
      if (event.error) {
        ++failed;
        CHECK(event.error->message.find("no such page") != std::string::npos);
      }
    }
    CHECK(children_started == 2);
    CHECK(children_finished == 2);
    CHECK(failed == 1);
  }
}
