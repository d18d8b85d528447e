// A model the app answers itself: every call of every run reaches the host provider,
// concurrently from many runs, with errors and exceptions turned into plan errors.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "perdiem/perdiem.hpp"

using namespace perdiem;

namespace {

// Answers "echo:<last user message>", counting calls and the threads they came from.
class EchoModel final : public HostProvider {
 public:
  Result<HostChatReply> chat(const HostChatRequest& request) override {
    calls.fetch_add(1);
    {
      std::lock_guard lock(mutex);
      threads.insert(std::this_thread::get_id());
    }
    const std::string& last = request.messages.back().content;
    if (last == "fail") return make_error(ErrorKind::provider, "the model is down");
    if (last == "throw") throw std::runtime_error("model crashed");
    if (last == "flaky" && flaky_failures.fetch_sub(1) > 0) {
      return make_error(ErrorKind::provider, "try again", "", /*retryable=*/true);
    }
    HostChatReply reply;
    reply.content = "echo:" + last;
    reply.input_tokens = static_cast<std::int64_t>(last.size());
    reply.output_tokens = static_cast<std::int64_t>(reply.content.size());
    max_tokens_seen = request.max_tokens;
    return reply;
  }
  std::atomic<int> calls{0};
  std::atomic<int> flaky_failures{0};
  std::atomic<int> max_tokens_seen{0};
  std::mutex mutex;
  std::set<std::thread::id> threads;
};

std::unique_ptr<Runtime> runtime_for(std::shared_ptr<HostProvider> model,
                                     std::function<void(const StepEvent&)> on_step = {}) {
  RuntimeOptions options;
  options.host_provider = std::move(model);
  options.host_provider_name = "my-model";
  options.on_step = std::move(on_step);
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
  return std::move(runtime).value();
}

const char* kAsk = R"(
  local reply = model.chat{messages = {{role = "user", content = agent.args[1]}}}
  return reply.content .. "|" .. reply.provider .. "|" .. reply.cost_nanos
)";

}  // namespace

TEST_CASE("a host provider answers the plan's calls, free and metered under its name") {
  auto model = std::make_shared<EchoModel>();
  std::vector<StepEvent> events;
  auto runtime = runtime_for(model, [&](const StepEvent& e) { events.push_back(e); });
  CHECK(runtime->provider_name() == "my-model");
  RunOptions options;
  options.args = {"hello"};
  RunResult result = runtime->run_script(kAsk, "ask.lua", options);
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "echo:hello|my-model|0");
  CHECK(result.usage.model_calls == 1);
  CHECK(result.usage.input_tokens == 5);
  CHECK(result.providers == std::vector<std::string>{"my-model"});
  CHECK(model->max_tokens_seen == 1024);  // the default cap is always sent
  REQUIRE(events.size() == 2);
  CHECK(events[1].provider == "my-model");
  CHECK(events[1].response_text == "echo:hello");
}

TEST_CASE("host provider errors reach the plan; retryable ones are retried") {
  auto model = std::make_shared<EchoModel>();
  auto runtime = runtime_for(model);
  RunOptions options;

  options.args = {"fail"};
  RunResult failed = runtime->run_script(kAsk, "ask.lua", options);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error->kind == ErrorKind::provider);
  // The router names every candidate it tried and why each failed.
  CHECK(failed.error->message.find("my-model") != std::string::npos);
  CHECK(failed.error->message.find("the model is down") != std::string::npos);

  options.args = {"throw"};
  RunResult thrown = runtime->run_script(kAsk, "ask.lua", options);
  REQUIRE_FALSE(thrown.ok());
  CHECK(thrown.error->kind == ErrorKind::internal);
  CHECK(thrown.error->message.find("model crashed") != std::string::npos);

  model->flaky_failures = 1;
  options.args = {"flaky"};
  const int before = model->calls;
  RunResult retried = runtime->run_script(kAsk, "ask.lua", options);
  REQUIRE_MESSAGE(retried.ok(), retried.error->describe());
  CHECK(retried.text == "echo:flaky|my-model|0");
  CHECK(model->calls - before == 2);
}

TEST_CASE("many runs call one host provider at once and each gets its own answers") {
  auto model = std::make_shared<EchoModel>();
  auto runtime = runtime_for(model);
  constexpr int kRuns = 24;
  constexpr int kCallsEach = 8;
  std::vector<std::shared_ptr<RunHandle>> runs;
  for (int i = 0; i < kRuns; ++i) {
    RunOptions options;
    options.args = {"agent" + std::to_string(i)};
    runs.push_back(runtime->start_script(R"(
      local answers = {}
      for n = 1, 8 do
        local reply = model.chat{messages = {{role = "user", content = agent.args[1] .. "#" .. n}}}
        answers[#answers + 1] = reply.content
      end
      return table.concat(answers, ",")
    )",
                                         "many.lua", options));
  }
  for (int i = 0; i < kRuns; ++i) {
    const RunResult& result = runs[static_cast<std::size_t>(i)]->wait();
    REQUIRE_MESSAGE(result.ok(), result.error->describe());
    std::string expected;
    for (int n = 1; n <= kCallsEach; ++n) {
      expected += (n > 1 ? "," : "") + std::string("echo:agent") + std::to_string(i) + "#" +
                  std::to_string(n);
    }
    CHECK(result.text == expected);
    CHECK(result.usage.model_calls == kCallsEach);
  }
  CHECK(model->calls == kRuns * kCallsEach);
  CHECK(model->threads.size() > 1);
}

namespace {

// Holds each call for a while and records how many were in flight at once.
class SlowModel final : public HostProvider {
 public:
  Result<HostChatReply> chat(const HostChatRequest& request) override {
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    in_flight.fetch_sub(1);
    const std::string& last = request.messages.back().content;
    if (last == "fail") return make_error(ErrorKind::provider, "cannot answer that");
    HostChatReply reply;
    reply.content = "re:" + last;
    reply.input_tokens = 1;
    reply.output_tokens = 1;
    return reply;
  }
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
};

}  // namespace

TEST_CASE("model.chat_many sends its calls at once and answers in order, failures in place") {
  auto model = std::make_shared<SlowModel>();
  std::mutex mutex;
  std::vector<StepEvent> events;
  auto runtime = runtime_for(model, [&](const StepEvent& e) {
    std::lock_guard lock(mutex);
    events.push_back(e);
  });
  RunResult result = runtime->run_script(R"(
    local asks = {}
    for i, word in ipairs({"a", "b", "fail", "d", "e", "f"}) do
      asks[i] = {messages = {{role = "user", content = word}}}
    end
    local replies = model.chat_many(asks)
    local out = {}
    for i, r in ipairs(replies) do out[i] = r.kind and ("error:" .. r.kind) or r.content end
    return table.concat(out, ",")
  )",
                                         "many.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "re:a,re:b,error:provider,re:d,re:e,re:f");
  CHECK(model->max_in_flight > 1);
  CHECK(result.usage.model_calls == 5);
  REQUIRE(events.size() == 12);
  std::set<std::int64_t> steps;
  for (const StepEvent& e : events) steps.insert(e.step);
  CHECK(steps == std::set<std::int64_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("a host tool serves many runs at once, each its own answers") {
  std::atomic<int> calls{0};
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  HostTool square;
  square.name = "math.square";
  square.description = "Squares an integer.";
  square.parameters_json =
      R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]})";
  square.handler = [&calls](const std::string& arguments) -> Result<std::string> {
    calls.fetch_add(1);
    const long long n = nlohmann::json::parse(arguments)["n"].get<long long>();
    return std::to_string(n * n);
  };
  options.tools.push_back(square);
  auto created = Runtime::create(std::move(options));
  REQUIRE(created.ok());
  auto& runtime = *created;
  std::vector<std::shared_ptr<RunHandle>> runs;
  for (int i = 0; i < 16; ++i) {
    RunOptions run_options;
    run_options.args = {std::to_string(i)};
    runs.push_back(runtime->start_script(R"(
      local base = tonumber(agent.args[1]) * 10
      local sum = 0
      for k = 1, 5 do sum = sum + tool.call("math.square", {n = base + k}) end
      return sum
    )",
                                         "squares.lua", run_options));
  }
  for (int i = 0; i < 16; ++i) {
    const RunResult& result = runs[static_cast<std::size_t>(i)]->wait();
    REQUIRE_MESSAGE(result.ok(), result.error->describe());
    long long expected = 0;
    for (int k = 1; k <= 5; ++k) expected += static_cast<long long>(i * 10 + k) * (i * 10 + k);
    CHECK(result.json == std::to_string(expected));
  }
  CHECK(calls == 80);
}

TEST_CASE("several tool calls in one reply run at once, results in call order") {
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  HostTool slow;
  slow.name = "app.slow_echo";
  slow.description = "Echoes its word, slowly.";
  slow.parameters_json =
      R"({"type":"object","properties":{"word":{"type":"string"}},"required":["word"]})";
  slow.handler = [&](const std::string& arguments) -> Result<std::string> {
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    in_flight.fetch_sub(1);
    return nlohmann::json::parse(arguments)["word"].get<std::string>();
  };
  options.tools.push_back(slow);
  auto runtime = Runtime::create(std::move(options));
  REQUIRE(runtime.ok());
  RunResult result = (*runtime)->run_script(R"(
    local lines = {}
    for _, word in ipairs({"one", "two", "three", "four"}) do
      lines[#lines + 1] = 'call tool app__slow_echo with {"word": "' .. word .. '"}'
    end
    lines[#lines + 1] = 'call tool app__slow_echo with {"wrong": 1}'
    local reply = model.chat{messages = {{role = "user", content = table.concat(lines, "\n")}},
                             tools = {"app.slow_echo"}}
    local out = {}
    for i, message in ipairs(tool.run(reply.tool_calls)) do
      assert(message.tool_call_id == reply.tool_calls[i].id)
      out[i] = message.content
    end
    return table.concat(out, ",")
  )",
                                            "parallel_tools.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text.rfind("one,two,three,four,error: ", 0) == 0);
  CHECK(result.text.find("required property missing") != std::string::npos);
  CHECK(max_in_flight > 1);
}
