// A thousand agents at once in one runtime: each its own run, sandbox and wallet
// reservations, all answered by one host model that holds every call a while, so the
// agents really overlap (a call is held long enough to outlast starting the others, even
// under the sanitizers); then the same against the built-in sim provider with a simulated
// latency, where each call waits on the event loop. Every agent's result is checked.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "perdiem/perdiem.hpp"
#include "counting_model.hpp"

using namespace perdiem;
using namespace std::chrono_literals;

namespace {

constexpr int kAgents = 1000;

// Starts kAgents runs of `plan`, agent i with agent.args = {i}.
std::vector<std::shared_ptr<RunHandle>> start_agents(Runtime& runtime, const std::string& plan) {
  std::vector<std::shared_ptr<RunHandle>> runs;
  runs.reserve(kAgents);
  for (int i = 0; i < kAgents; ++i) {
    RunOptions run_options;
    run_options.args = {std::to_string(i)};
    runs.push_back(runtime.start_script(plan, "agent.lua", run_options));
  }
  return runs;
}

}  // namespace

TEST_CASE("1,000 agents run at once and each gets its own answers") {
  auto model = std::make_shared<testing::CountingModel>(std::chrono::milliseconds(200), "echo ");
  RuntimeOptions options;
  options.host_provider = model;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());

  const std::string plan =
      "local first = model.chat{messages={{role='user', content='a' .. agent.args[1]}}}\n"
      "local second = model.chat{messages={{role='user', content=first.content}}}\n"
      "return second.content\n";
  const std::vector<std::shared_ptr<RunHandle>> runs = start_agents(**runtime, plan);
  int correct = 0;
  for (int i = 0; i < kAgents; ++i) {
    const RunResult& result = runs[static_cast<std::size_t>(i)]->wait();
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
    CHECK(result.usage.model_calls == 2);
    if (result.text == "echo echo a" + std::to_string(i)) ++correct;
  }
  CHECK(correct == kAgents);
  CHECK(model->calls.load() == 2 * kAgents);
  // The agents overlapped: far more than a handful of calls were in flight together.
  CHECK(model->max_in_flight.load() >= 50);
}

TEST_CASE("1,000 agents on the sim provider with 50 ms latency overlap and keep their answers") {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;  // PERDIEM_SIM_LATENCY_MS must not change it
  options.provider.sim_latency_ms = 50;
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());

  // The second call carries the agent's argument and the first answer, so an answer
  // delivered to the wrong agent (either call) shows up in the result.
  const std::string plan =
      "local first = model.chat{messages={{role='user', content='agent ' .. agent.args[1]}}}\n"
      "local second = model.chat{messages={{role='user', content='agent ' .. agent.args[1] ..\n"
      "  ' heard: ' .. first.content}}}\n"
      "return second.content\n";
  const auto start = std::chrono::steady_clock::now();
  const std::vector<std::shared_ptr<RunHandle>> runs = start_agents(**runtime, plan);
  int correct = 0;
  for (int i = 0; i < kAgents; ++i) {
    const RunResult& result = runs[static_cast<std::size_t>(i)]->wait();
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error->describe()));
    CHECK(result.usage.model_calls == 2);
    CHECK(result.providers == std::vector<std::string>{"sim"});
    const std::string self = "agent " + std::to_string(i);
    if (result.text ==
        "sim: I received your message: " + self + " heard: sim: I received your message: " + self) {
      ++correct;
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(correct == kAgents);
  // The latency was applied: each run waited out two 50 ms calls in a row.
  CHECK(elapsed >= 100ms);
  // One after another the calls would take 1,000 x 2 x 50 ms = 100 s; waiting on the
  // event loop they overlap. The bound is loose so the sanitizer builds pass it too.
  CHECK(elapsed < 30s);
}
