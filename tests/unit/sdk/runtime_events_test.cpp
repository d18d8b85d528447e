// What a host sees of a run while it runs: step events for every model call, and runs
// started in the background that can be awaited, polled and cancelled.
#include <doctest/doctest.h>

#include <chrono>
#include <mutex>
#include <vector>

#include "perdiem/mock_provider.hpp"
#include "perdiem/perdiem.hpp"

using namespace perdiem;
using namespace std::chrono_literals;

namespace {

struct Recorder {
  std::mutex mutex;
  std::vector<StepEvent> events;
  std::function<void(const StepEvent&)> sink() {
    return [this](const StepEvent& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
    };
  }
};

RuntimeOptions offline() {
  RuntimeOptions options;
  options.provider.provider = "sim";
  options.provider.use_environment = false;
  return options;
}

std::unique_ptr<Runtime> make_runtime(RuntimeOptions options) {
  auto runtime = Runtime::create(std::move(options));
  REQUIRE_MESSAGE(runtime.ok(), runtime.error().describe());
  return std::move(runtime).value();
}

}  // namespace

TEST_CASE("every model call reports a started and a finished step, in order") {
  Recorder recorder;
  RuntimeOptions options = offline();
  options.on_step = recorder.sink();
  auto runtime = make_runtime(std::move(options));
  RunResult result = runtime->run_script(R"(
    local a = model.chat{messages = {{role = "user", content = "reply with exactly: alpha"}}}
    local e = model.embed("some text")
    local b = model.chat{messages = {{role = "user", content = "reply with exactly: beta"}}}
    return a.content .. b.content
  )",
                                         "events.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "alphabeta");

  REQUIRE(recorder.events.size() == 6);
  const StepKind kinds[] = {StepKind::chat, StepKind::embed, StepKind::chat};
  for (std::size_t i = 0; i < 6; ++i) {
    const StepEvent& e = recorder.events[i];
    CAPTURE(i);
    CHECK(e.run_id == result.run_id);
    CHECK(e.step == static_cast<std::int64_t>(i / 2 + 1));
    CHECK(e.kind == kinds[i / 2]);
    CHECK(e.phase == (i % 2 == 0 ? StepPhase::started : StepPhase::finished));
    CHECK(e.provider == "sim");
    CHECK_FALSE(e.error.has_value());
  }
  CHECK(recorder.events[0].request_json.find("reply with exactly: alpha") != std::string::npos);
  CHECK(recorder.events[1].response_text == "alpha");
  CHECK(recorder.events[1].input_tokens > 0);
  CHECK(recorder.events[1].output_tokens > 0);
  CHECK_FALSE(recorder.events[1].receipt_id.empty());
  CHECK(recorder.events[2].request_json.find("some text") != std::string::npos);
  CHECK(recorder.events[3].model == "sim-embed");
  CHECK(recorder.events[5].response_text == "beta");
}

TEST_CASE("a failed call's finished step carries the error, and a throwing listener is ignored") {
  MockProviderOptions mock_options;
  mock_options.required_key = "sk-needed";
  auto mock = MockProvider::start(mock_options);
  REQUIRE(mock.ok());
  Recorder recorder;
  RuntimeOptions options;
  options.provider.base_url = (*mock)->base_url();
  options.provider.use_environment = false;
  options.on_step = [&recorder, sink = recorder.sink()](const StepEvent& e) {
    sink(e);
    throw std::runtime_error("a listener bug");
  };
  auto runtime = make_runtime(std::move(options));
  RunResult result = runtime->run_script(
      R"(return model.chat{messages = {{role = "user", content = "hi"}}}.content)", "fail.lua", {});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error->kind == ErrorKind::auth);
  REQUIRE(recorder.events.size() == 2);
  REQUIRE(recorder.events[1].error.has_value());
  CHECK(recorder.events[1].error->kind == ErrorKind::auth);
  CHECK(recorder.events[1].cost_nanos == 0);
}

TEST_CASE("a background run can be awaited and polled, and knows its id at once") {
  auto runtime = make_runtime(offline());
  auto handle = runtime->start_script(R"(
    sleep(0.2)
    return model.chat{messages = {{role = "user", content = "reply with exactly: done"}}}.content
  )",
                                      "bg.lua", {});
  REQUIRE(handle != nullptr);
  CHECK(handle->run_id().rfind("run-", 0) == 0);
  CHECK_FALSE(handle->wait_for(0ms).has_value());
  const RunResult& result = handle->wait();
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "done");
  CHECK(result.run_id == handle->run_id());
  CHECK(handle->done());
  CHECK(handle->wait_for(0ms)->text == "done");
}

TEST_CASE("cancelling a background run stops it with kind cancelled; others go on") {
  auto runtime = make_runtime(offline());
  RunOptions forever;
  forever.instruction_limit = 0;  // only cancellation can stop it
  auto spinning = runtime->start_script("while true do end", "spin.lua", forever);
  auto sleeping = runtime->start_script("sleep(30) return 'woke'", "nap.lua", {});
  auto working = runtime->start_script("return 6 * 7", "work.lua", {});
  CHECK(working->wait().text == "42");
  CHECK_FALSE(spinning->wait_for(50ms).has_value());
  spinning->cancel();
  sleeping->cancel();
  const RunResult& spun = spinning->wait();
  REQUIRE_FALSE(spun.ok());
  CHECK(spun.error->kind == ErrorKind::cancelled);
  const RunResult& slept = sleeping->wait();
  REQUIRE_FALSE(slept.ok());
  CHECK(slept.error->kind == ErrorKind::cancelled);
}

TEST_CASE("destroying the runtime cancels and waits for its background runs") {
  auto runtime = make_runtime(offline());
  RunOptions forever;
  forever.instruction_limit = 0;
  auto handle = runtime->start_script("while true do end", "spin.lua", forever);
  CHECK_FALSE(handle->wait_for(20ms).has_value());
  runtime.reset();
  REQUIRE(handle->done());
  CHECK(handle->wait().error->kind == ErrorKind::cancelled);
}

TEST_CASE("agent.id and agent.run_id name the agent and this run") {
  auto runtime = make_runtime(offline());
  RunOptions options;
  options.agent = "scout";
  RunResult named =
      runtime->run_script("return agent.id .. ' ' .. agent.run_id", "id.lua", options);
  REQUIRE(named.ok());
  CHECK(named.text == "scout " + named.run_id);
  RunResult unnamed = runtime->run_script("return '[' .. agent.id .. ']'", "id.lua", {});
  CHECK(unnamed.text == "[]");
}

namespace {

// The events of one step, by phase.
struct StepEvents {
  std::vector<StepEvent> started, deltas, finished;
};

StepEvents events_of(const std::vector<StepEvent>& events, std::int64_t step) {
  StepEvents out;
  for (const StepEvent& e : events) {
    if (e.step != step) continue;
    // Phases arrive in order: started, deltas, finished.
    if (e.phase == StepPhase::started) {
      CHECK(out.deltas.empty());
      CHECK(out.finished.empty());
      out.started.push_back(e);
    } else if (e.phase == StepPhase::delta) {
      CHECK(out.started.size() == 1);
      CHECK(out.finished.empty());
      out.deltas.push_back(e);
    } else {
      out.finished.push_back(e);
    }
  }
  return out;
}

std::string joined(const std::vector<StepEvent>& deltas) {
  std::string text;
  for (const StepEvent& e : deltas) text += e.delta_text;
  return text;
}

}  // namespace

TEST_CASE("model.stream reports its text as delta steps between started and finished") {
  Recorder recorder;
  RuntimeOptions options = offline();
  options.on_step = recorder.sink();
  auto runtime = make_runtime(std::move(options));
  RunResult result = runtime->run_script(R"(
    local pieces = {}
    local streamed = model.stream{
      messages = {{role = "user", content = "reply with exactly: one two three four"}},
      on_delta = function(text) pieces[#pieces + 1] = text end}
    local plain = model.chat{messages = {{role = "user", content = "reply with exactly: quiet"}}}
    return table.concat(pieces, "|") .. "=" .. streamed.content .. "/" .. plain.content
  )",
                                         "stream.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  CHECK(result.text == "one |two |three |four=one two three four/quiet");

  const StepEvents streamed = events_of(recorder.events, 1);
  REQUIRE(streamed.started.size() == 1);
  REQUIRE(streamed.finished.size() == 1);
  REQUIRE(streamed.deltas.size() == 4);  // the plan saw the same pieces
  CHECK(streamed.deltas[0].delta_text == "one ");
  CHECK(joined(streamed.deltas) == streamed.finished[0].response_text);
  for (const StepEvent& e : streamed.deltas) {
    CHECK(e.run_id == result.run_id);
    CHECK(e.kind == StepKind::chat);
    CHECK(e.response_text.empty());
  }
  CHECK(streamed.finished[0].delta_text.empty());

  const StepEvents plain = events_of(recorder.events, 2);
  CHECK(plain.started.size() == 1);
  CHECK(plain.deltas.empty());  // model.chat is not streamed unless the app asks
  CHECK(plain.finished.size() == 1);
}

TEST_CASE("stream_chat streams plain model.chat answers to on_step too") {
  Recorder recorder;
  RuntimeOptions options = offline();
  options.on_step = recorder.sink();
  options.stream_chat = true;
  auto runtime = make_runtime(std::move(options));
  RunResult result = runtime->run_script(
      R"(return model.chat{messages = {{role = "user", content = "reply with exactly: a b c"}}}.content)",
      "plain.lua", {});
  REQUIRE_MESSAGE(result.ok(), result.error->describe());
  const StepEvents step = events_of(recorder.events, 1);
  CHECK(step.deltas.size() == 3);
  REQUIRE(step.finished.size() == 1);
  CHECK(joined(step.deltas) == step.finished[0].response_text);
  CHECK(joined(step.deltas) == result.text);
}

TEST_CASE("an error in on_delta stops the stream; the step finishes with the call's error") {
  Recorder recorder;
  RuntimeOptions options = offline();
  options.on_step = recorder.sink();
  auto runtime = make_runtime(std::move(options));
  RunResult result = runtime->run_script(R"(
    model.stream{messages = {{role = "user", content = "reply with exactly: one two three"}},
                 on_delta = function(text) error("enough after " .. text) end}
  )",
                                         "stop.lua", {});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error->kind == ErrorKind::script);
  CHECK(result.error->message.find("enough after one ") != std::string::npos);
  const StepEvents step = events_of(recorder.events, 1);
  CHECK(step.deltas.size() == 1);  // nothing was streamed after the error
  REQUIRE(step.finished.size() == 1);
  REQUIRE(step.finished[0].error.has_value());
  CHECK(step.finished[0].error->kind == ErrorKind::cancelled);
}
