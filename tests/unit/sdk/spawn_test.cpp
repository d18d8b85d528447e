// agent.spawn through the Runtime: a sub-agent in its own run returns its value to the
// parent; its failure is catchable; budgets are carved from the parent's; names are
// resolved like require; nesting is bounded; sub-agents are agents on the scheduler,
// holding no thread each.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include "perdiem/perdiem.hpp"
#include "counting_model.hpp"
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

std::unique_ptr<Runtime> sim_runtime() {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());
  return std::move(*runtime);
}

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
  const std::string parent = dir.write(
      "parent.lua",
      "local child = agent.spawn('failing')\n"
      "local ok, err = pcall(child.await, child)\n"
      "return {ok = ok, kind = err.kind, message = err.message}");
  auto runtime = sim_runtime();
  RunResult result = runtime->run_file(parent, {});
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  CHECK(result.json.find("\"ok\":false") != std::string::npos);
  CHECK(result.json.find("agent.spawn(\\\"failing\\\")") != std::string::npos);
}

TEST_CASE("a sub-agent's budget is carved from what the parent has left") {
  PlanDir dir;
  dir.write("worker.lua", "return 'done'");
  const std::string parent = dir.write(
      "parent.lua",
      "local ok, err = pcall(agent.spawn, 'worker', {}, {budget = 1})\n"
      "local fits = agent.spawn('worker', {}, {budget = 0.005}):await()\n"
      "return {refused = err.kind, fits = fits}");
  auto runtime = sim_runtime();
  RunOptions options;
  options.budget = 10'000'000;  // $0.01
  RunResult result = runtime->run_file(parent, options);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
  CHECK(result.json.find("\"refused\":\"budget_exceeded\"") != std::string::npos);
  CHECK(result.json.find("\"fits\":\"done\"") != std::string::npos);
}

TEST_CASE("spawn names resolve like require, and nesting is bounded") {
  PlanDir dir;
  dir.write("self.lua", "return agent.spawn('self'):await()");
  const std::string parent = dir.write(
      "parent.lua",
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
  const std::string parent = dir.write(
      "parent.lua",
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
  dir.write("napper.lua", "sleep(0.4) return 'woke ' .. agent.args[1]");
  const std::string parent = dir.write(
      "parent.lua",
      "local children = {}\n"
      "for i = 1, 40 do children[i] = agent.spawn('napper', {tostring(i)}) end\n"
      "local answers = {}\n"
      "for i, child in ipairs(children) do answers[i] = child:await() end\n"
      "return answers[1] .. ',' .. answers[40] .. ',' .. #answers");
  auto runtime = sim_runtime();
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
    std::this_thread::sleep_for(200ms);  // every child started, and asleep
    // The parent's await and the app's thread, not a thread per sub-agent (there were 40).
    CHECK(testing::thread_count() - before < 15);
    if (!scheduled_parent) app_thread.join();
    const RunResult& result = scheduled_parent ? background->wait() : synchronous;
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
    CHECK(result.text == "woke 1,woke 40,40");
  }
}

TEST_CASE("child:await() inside parallel or a coroutine is refused in every run; the body "
          "awaits it later") {
  PlanDir dir;
  dir.write("worker.lua", "return 'done'");
  const std::string parent = dir.write(
      "parent.lua",
      "local child = agent.spawn('worker')\n"
      "local _, in_branch = pcall(parallel, function() return child:await() end)\n"
      "local _, in_coroutine = pcall(coroutine.wrap(function() return child:await() end))\n"
      "return {branch = in_branch.kind, coroutine = in_coroutine.kind,"
      " message = in_branch.message, later = child:await()}");
  auto runtime = sim_runtime();
  const RunResult synchronous = runtime->run_file(parent, {});
  const RunResult background = runtime->start_file(parent, {})->wait();
  for (const RunResult* result : {&synchronous, &background}) {
    REQUIRE_MESSAGE(result->ok(), (result->ok() ? "" : result->error->describe()));
    CHECK(result->json.find("\"branch\":\"script\"") != std::string::npos);
    CHECK(result->json.find("\"coroutine\":\"script\"") != std::string::npos);
    CHECK(result->json.find("after parallel returns") != std::string::npos);
    CHECK(result->json.find("\"later\":\"done\"") != std::string::npos);
  }
}

TEST_CASE("a hundred background runs awaiting a sub-agent each hold no thread while they wait") {
  PlanDir dir;
  dir.write("napper.lua", "sleep(0.4) return 'woke'");
  const std::string parent = dir.write("parent.lua", "return agent.spawn('napper'):await()");
  auto runtime = sim_runtime();
  runtime->start_script("return 1", "warm.lua", {})->wait();  // the scheduler's threads exist
  const int before = testing::thread_count();
  std::vector<std::shared_ptr<RunHandle>> parents;
  for (int i = 0; i < 100; ++i) parents.push_back(runtime->start_file(parent, {}));
  std::this_thread::sleep_for(200ms);  // every parent awaiting, every child asleep
  // The awaits were blocking-pool jobs: a hundred threads.
  CHECK(testing::thread_count() - before < 15);
  for (auto& run : parents) {
    const RunResult& result = run->wait();
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
    CHECK(result.text == "woke");
  }
}

TEST_CASE("cancelling a background run that awaits a sub-agent cancels the sub-agent") {
  PlanDir dir;
  dir.write("sleeper.lua", "sleep(30) return 'late'");
  const std::string parent = dir.write("parent.lua", "return agent.spawn('sleeper'):await()");
  auto runtime = sim_runtime();
  auto run = runtime->start_file(parent, {});
  std::this_thread::sleep_for(150ms);  // awaiting
  const auto cancelled_at = std::chrono::steady_clock::now();
  run->cancel();
  const std::optional<RunResult> result = run->wait_for(10s);
  REQUIRE(result.has_value());
  CHECK(std::chrono::steady_clock::now() - cancelled_at < 5s);  // not the child's 30 s
  REQUIRE(!result->ok());
  CHECK(result->error->kind == ErrorKind::cancelled);
}
