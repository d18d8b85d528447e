// parallel() and perdiem.map_reduce through the SDK: the branches' model calls are really
// in flight at the same time on the host provider, each metered and traced as a step.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include "perdiem/perdiem.hpp"

using namespace perdiem;

namespace {

// Each call waits (up to two seconds) until `target` calls are in flight at once, then
// answers "re:<text>". max_in_flight says how many were ever in flight together.
class GatheringModel final : public HostProvider {
 public:
  explicit GatheringModel(int target) : target_(target) {}

  Result<HostChatReply> chat(const HostChatRequest& request) override {
    {
      std::unique_lock lock(mutex_);
      ++in_flight_;
      max_in_flight = std::max(max_in_flight, in_flight_);
      gathered_.notify_all();
      if (!gathered_.wait_for(lock, std::chrono::seconds(2),
                              [this] { return in_flight_ >= target_ || released_; })) {
        ++timeouts;
      }
      released_ = released_ || in_flight_ >= target_;
    }
    HostChatReply reply;
    reply.content = "re:" + request.messages.back().content;
    reply.input_tokens = 1;
    reply.output_tokens = 1;
    std::lock_guard lock(mutex_);
    --in_flight_;
    if (in_flight_ == 0) released_ = false;  // the next round gathers again
    return reply;
  }

  int max_in_flight = 0;
  int timeouts = 0;

 private:
  std::mutex mutex_;
  std::condition_variable gathered_;
  int in_flight_ = 0;
  bool released_ = false;
  const int target_;
};

std::unique_ptr<Runtime> runtime_for(std::shared_ptr<HostProvider> model,
                                     std::function<void(const StepEvent&)> on_step = {}) {
  RuntimeOptions options;
  options.host_provider = std::move(model);
  options.on_step = std::move(on_step);
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
  return std::move(runtime).value();
}

}  // namespace

TEST_CASE("parallel's branches have their model calls in flight at the same time") {
  auto model = std::make_shared<GatheringModel>(4);
  std::mutex mutex;
  std::set<std::int64_t> steps;
  auto runtime = runtime_for(model, [&](const StepEvent& e) {
    std::lock_guard lock(mutex);
    steps.insert(e.step);
  });
  RunResult result = runtime->run_script(R"(
    local function ask(text) return model.chat{messages = {{role = "user", content = text}}}.content end
    local a, b, c, d = parallel(function() return ask("a") end, function() return ask("b") end,
                                function() return ask("c") end, function() return ask("d") end)
    return table.concat({a, b, c, d}, ",")
  )",
                                         "parallel.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "re:a,re:b,re:c,re:d");
  CHECK(model->max_in_flight == 4);
  CHECK(model->timeouts == 0);  // every call found the other three in flight
  CHECK(result.usage.model_calls == 4);
  CHECK(steps == std::set<std::int64_t>{1, 2, 3, 4});
}

TEST_CASE("map_reduce keeps exactly `concurrency` calls in flight, never more") {
  auto model = std::make_shared<GatheringModel>(3);
  auto runtime = runtime_for(model);
  RunResult result = runtime->run_script(R"(
    local mr = require "perdiem.map_reduce"
    local results = mr.run{items = {"1", "2", "3", "4", "5", "6"}, map = "{item}", concurrency = 3}
    return table.concat(results, ",")
  )",
                                         "map.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "re:1,re:2,re:3,re:4,re:5,re:6");
  CHECK(model->max_in_flight == 3);
  CHECK(model->timeouts == 0);
  CHECK(result.usage.model_calls == 6);
}
