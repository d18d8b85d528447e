// A thousand agents at once in one runtime: each its own run, sandbox and wallet
// reservations, all answered by one host model that holds every call a while, so the
// agents really overlap (a call is held long enough to outlast starting the others, even
// under the sanitizers). Every agent's result is checked.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "perdiem/perdiem.hpp"
#include "counting_model.hpp"

using namespace perdiem;

namespace {

constexpr int kAgents = 1000;

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
  std::vector<std::shared_ptr<RunHandle>> runs;
  runs.reserve(kAgents);
  for (int i = 0; i < kAgents; ++i) {
    RunOptions run_options;
    run_options.args = {std::to_string(i)};
    runs.push_back((*runtime)->start_script(plan, "agent.lua", run_options));
  }
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
