// run_plan: the plan's globals, its result, and how its failures are reported.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lua/plan.hpp"

using perdiem::Error;
using perdiem::ErrorKind;
using perdiem::LogLevel;
using perdiem::Result;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;

namespace {

// Records what the plan asked for and answers "reply N" (or whatever `answer` says).
struct FakeHost {
  std::vector<ChatRequest> requests;
  std::vector<std::pair<LogLevel, std::string>> logs;
  std::function<Result<ChatResponse>(const ChatRequest&)> answer = [this](const ChatRequest& r) {
    ChatResponse response;
    response.content = "reply " + std::to_string(requests.size());
    response.model = r.model.empty() ? "default-model" : r.model;
    response.provider = "fake";
    response.finish_reason = "stop";
    response.usage = {12, 34};
    return Result<ChatResponse>(response);
  };

  PlanOutcome run(std::string_view source, const std::vector<std::string>& args = {},
                  const PlanLimits& limits = {}) {
    PlanHost host;
    host.chat = [this](const ChatRequest& request) {
      requests.push_back(request);
      return answer(request);
    };
    host.log = [this](LogLevel level, std::string_view line) {
      logs.emplace_back(level, std::string(line));
    };
    return perdiem::lua::run_plan(source, "plan.lua", args, limits, host);
  }
};

constexpr const char* kHello = "{messages = {{role = 'user', content = 'hi'}}}";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const Error& error_of(const PlanOutcome& outcome) {
  REQUIRE(outcome.error.has_value());
  return *outcome.error;
}

}  // namespace

TEST_CASE("model.chat passes every request field to the host") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(R"lua(
    model.chat{model = "llama-3.1-8b", max_tokens = 100, temperature = 0.25, messages = {
      {role = "system", content = "be brief"}, {role = "user", content = "hello"}}})lua");
  REQUIRE_FALSE(outcome.error);
  REQUIRE(fake.requests.size() == 1);
  const ChatRequest& request = fake.requests[0];
  CHECK(request.model == "llama-3.1-8b");
  REQUIRE(request.messages.size() == 2);
  CHECK(request.messages[0].role == "system");
  CHECK(request.messages[0].content == "be brief");
  CHECK(request.messages[1].role == "user");
  CHECK(request.messages[1].content == "hello");
  CHECK(request.max_tokens == 100);
  CHECK(request.temperature == 0.25);
}

TEST_CASE("model.chat leaves model empty and options unset when the plan names none") {
  FakeHost fake;
  REQUIRE_FALSE(fake.run(std::string("model.chat") + kHello).error);
  REQUIRE(fake.requests.size() == 1);
  CHECK(fake.requests[0].model.empty());
  CHECK_FALSE(fake.requests[0].max_tokens.has_value());
  CHECK_FALSE(fake.requests[0].temperature.has_value());
}

TEST_CASE("model.chat returns content, usage, provider, model and finish_reason") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(std::string("local r = model.chat") + kHello + R"lua(
    return {content = r.content, input = r.usage.input, output = r.usage.output,
            provider = r.provider, model = r.model, finish_reason = r.finish_reason})lua");
  REQUIRE_FALSE(outcome.error);
  CHECK(nlohmann::json::parse(outcome.json) == nlohmann::json{{"content", "reply 1"},
                                                              {"input", 12},
                                                              {"output", 34},
                                                              {"provider", "fake"},
                                                              {"model", "default-model"},
                                                              {"finish_reason", "stop"}});
}

TEST_CASE("successive model calls are answered in order") {
  FakeHost fake;
  const PlanOutcome outcome =
      fake.run(std::string("local a = model.chat") + kHello + " local b = model.chat" + kHello +
               " return a.content .. ', ' .. b.content");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "reply 1, reply 2");
}

TEST_CASE("model.chat explains what is wrong with its arguments") {
  const std::pair<const char*, const char*> cases[] = {
      {"model.chat('hi')", "model.chat: expected a table"},
      {"model.chat{}",
       "model.chat: messages must be a non-empty array of {role=, content=} tables"},
      {"model.chat{messages = {}}", "messages must be a non-empty array"},
      {"model.chat{messages = {'hi'}}", "messages must be a non-empty array"},
      {"model.chat{messages = {{role = 'user'}}}", "messages[1].content must be a string"},
      {"model.chat{messages = {{role = 'robot', content = 'x'}}}",
       "messages[1].role must be \"system\", \"user\", \"assistant\" or \"tool\""},
      {"model.chat{messages = {{role = 'tool', content = 'x'}}}",
       "messages[1] (a tool result) needs tool_call_id"},
      {"model.chat{messages = {{role = 'assistant', tool_calls = {{id = 'c1'}}}}}",
       "messages[1].tool_calls[1].name must be a string"},
      {"model.chat{tools = 'fs.read', messages = {{role = 'user', content = 'x'}}}",
       "tools must be an array of tool names"},
      {"model.chat{model = 7, messages = {{role = 'user', content = 'x'}}}",
       "model must be a string"},
      {"model.chat{max_tokens = 0, messages = {{role = 'user', content = 'x'}}}",
       "max_tokens must be a positive integer"},
      {"model.chat{max_tokens = 1.5, messages = {{role = 'user', content = 'x'}}}",
       "max_tokens must be a positive integer"},
      {"model.chat{temperature = -1, messages = {{role = 'user', content = 'x'}}}",
       "temperature must be a number of 0 or more"},
      {"model.chat{max_token = 5, messages = {{role = 'user', content = 'x'}}}",
       "model.chat: unknown field 'max_token'"},
  };
  for (const auto& [source, expected] : cases) {
    CAPTURE(source);
    FakeHost fake;
    const PlanOutcome outcome = fake.run(source);
    CHECK(error_of(outcome).kind == ErrorKind::script);
    CHECK(contains(error_of(outcome).message, expected));
    CHECK(contains(error_of(outcome).message, "plan.lua:1:"));
    CHECK(fake.requests.empty());
  }
}

TEST_CASE("model.chat refuses messages larger than the plan's heap, however they are shared") {
  FakeHost fake;
  PlanLimits limits;
  limits.memory_limit_bytes = 8u << 20;
  const PlanOutcome outcome = fake.run(R"lua(
    local big = ("x"):rep(1 << 20)
    local messages = {}
    for i = 1, 100 do messages[i] = {role = "user", content = big} end
    model.chat{messages = messages})lua",
                                       {}, limits);
  CHECK(contains(error_of(outcome).message, "the messages take more than 8388608 bytes"));
  CHECK(fake.requests.empty());
}

TEST_CASE("model.chat bounds the host's copy of one message table repeated many times") {
  FakeHost fake;
  PlanLimits limits;
  limits.memory_limit_bytes = 8u << 20;
  const PlanOutcome outcome = fake.run(R"lua(
    local m = {role = "user", content = "x"}
    local messages = {}
    for i = 1, 200000 do messages[i] = m end
    model.chat{messages = messages})lua",
                                       {}, limits);
  CHECK(contains(error_of(outcome).message, "the messages take more than"));
  CHECK(fake.requests.empty());
}

TEST_CASE("a provider error is catchable with pcall and carries kind, provider, retryable") {
  FakeHost fake;
  fake.answer = [](const ChatRequest&) -> Result<ChatResponse> {
    return perdiem::make_error(ErrorKind::rate_limited, "slow down", "fake", true);
  };
  const PlanOutcome outcome =
      fake.run(std::string("local ok, err = pcall(model.chat, ") + kHello + R"lua()
    return {ok = ok, kind = err.kind, message = err.message, provider = err.provider,
            retryable = err.retryable, text = tostring(err)})lua");
  REQUIRE_FALSE(outcome.error);
  CHECK(nlohmann::json::parse(outcome.json) == nlohmann::json{{"ok", false},
                                                              {"kind", "rate_limited"},
                                                              {"message", "slow down"},
                                                              {"provider", "fake"},
                                                              {"retryable", true},
                                                              {"text", "rate_limited: slow down"}});
}

TEST_CASE("an uncaught provider error keeps its kind, source and retryable") {
  FakeHost fake;
  fake.answer = [](const ChatRequest&) -> Result<ChatResponse> {
    return perdiem::make_error(ErrorKind::rate_limited, "slow down", "fake", true);
  };
  const PlanOutcome outcome = fake.run(std::string("model.chat") + kHello);
  const Error& error = error_of(outcome);
  CHECK(error.kind == ErrorKind::rate_limited);
  CHECK(error.message == "slow down");
  CHECK(error.source == "fake");
  CHECK(error.retryable);
}

TEST_CASE("a caught provider error raised again keeps its kind") {
  FakeHost fake;
  fake.answer = [](const ChatRequest&) -> Result<ChatResponse> {
    return perdiem::make_error(ErrorKind::insufficient_credits, "no credit", "wallet");
  };
  const PlanOutcome outcome =
      fake.run(std::string("local ok, err = pcall(model.chat, ") + kHello + ") error(err)");
  CHECK(error_of(outcome).kind == ErrorKind::insufficient_credits);
  CHECK(error_of(outcome).source == "wallet");
}

TEST_CASE("a host that throws becomes an internal error the plan can catch") {
  FakeHost fake;
  fake.answer = [](const ChatRequest&) -> Result<ChatResponse> {
    throw std::runtime_error("socket on fire");
  };
  const PlanOutcome outcome =
      fake.run(std::string("local ok, err = pcall(model.chat, ") + kHello + ") return err.kind");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "internal");
}

TEST_CASE("model.chat works inside a coroutine the plan created") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(std::string(R"lua(
    local gen = coroutine.wrap(function()
      coroutine.yield("first")
      coroutine.yield(model.chat)lua") +
                                       kHello + R"lua(.content)
    end)
    return gen() .. " " .. gen())lua");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "first reply 1");
}

TEST_CASE("model.chat works where the plan cannot yield, as in a sort comparator") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(std::string(R"lua(
    local t = {3, 1, 2}
    local asked = false
    table.sort(t, function(a, b)
      if not asked then asked = true; model.chat)lua") +
                                       kHello + R"lua( end
      return a < b
    end)
    return table.concat(t, ","))lua");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "1,2,3");
  CHECK(fake.requests.size() == 1);
}

TEST_CASE("model.chat yields across pcall on the plan's thread") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(std::string("local ok, r = pcall(model.chat, ") + kHello +
                                       ") return tostring(ok) .. ' ' .. r.content");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "true reply 1");
}

TEST_CASE("a plan cannot set a finalizer, so none can call the model after the run") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(std::string(R"lua(
    setmetatable({}, {__gc = function() model.chat)lua") +
                                       kHello + R"lua( end})
    return "done")lua");
  CHECK(error_of(outcome).kind == ErrorKind::sandbox);
  CHECK(error_of(outcome).message == "a __gc metamethod is not available in the perdiem sandbox");
  CHECK(fake.requests.empty());
}

TEST_CASE("agent.args holds the run's arguments") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("return #agent.args .. ':' .. table.concat(agent.args, '|')",
                                       {"alpha", "beta gamma"});
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "2:alpha|beta gamma");
}

TEST_CASE("a string result is the text as is and a JSON string") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("return 'say \"hi\"', 'ignored'");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "say \"hi\"");
  CHECK(outcome.json == R"("say \"hi\"")");
}

TEST_CASE("a table result is JSON in both text and json") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("return {answer = 42, list = {1, 2}}");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.json == R"({"answer":42,"list":[1,2]})");
  CHECK(outcome.text == outcome.json);
}

TEST_CASE("no result and nil are an empty text and a JSON null") {
  FakeHost fake;
  for (const char* source : {"local x = 1", "return nil", "return"}) {
    CAPTURE(source);
    const PlanOutcome outcome = fake.run(source);
    REQUIRE_FALSE(outcome.error);
    CHECK(outcome.text.empty());
    CHECK(outcome.json == "null");
  }
}

TEST_CASE("a number result is its JSON") {
  FakeHost fake;
  CHECK(fake.run("return 42").json == "42");
  CHECK(fake.run("return 0.5").text == "0.5");
}

TEST_CASE("a result JSON cannot hold is a script error") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("return {f = tostring}");
  CHECK(error_of(outcome).kind == ErrorKind::script);
  CHECK(error_of(outcome).message ==
        "the plan's result cannot be converted to JSON: cannot encode a function value");
}

TEST_CASE("a syntax error names the chunk and line") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("local x = 1\nlocal = 2\n");
  const Error& error = error_of(outcome);
  CHECK(error.kind == ErrorKind::script);
  CHECK(error.message.rfind("plan.lua:2:", 0) == 0);
  CHECK(error.source == "plan.lua:2");
}

TEST_CASE("a runtime error carries file:line and a traceback") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(R"lua(local function inner()
  local t = nil
  return t.field
end
inner())lua");
  const Error& error = error_of(outcome);
  CHECK(error.kind == ErrorKind::script);
  CHECK(error.source == "plan.lua:3");
  CHECK(contains(error.message, "plan.lua:3: attempt to index a nil value"));
  CHECK(contains(error.message, "stack traceback:"));
  CHECK(contains(error.message, "plan.lua:5:"));
}

TEST_CASE("error() with a plain table or a number still reports something readable") {
  FakeHost fake;
  CHECK(
      contains(error_of(fake.run("error({code = 1})")).message, "(error object is a table value)"));
  CHECK(contains(error_of(fake.run("error(42)")).message, "42"));
}

TEST_CASE("a sandbox violation in a plan is kind sandbox with its position") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("local x = 1\nos.execute('rm -rf /')");
  const Error& error = error_of(outcome);
  CHECK(error.kind == ErrorKind::sandbox);
  CHECK(error.message == "os.execute is not available in the perdiem sandbox");
  CHECK(error.source == "plan.lua:2");
}

TEST_CASE("a memory bomb ends with kind limit and the host runs the next plan") {
  FakeHost fake;
  PlanLimits limits;
  limits.memory_limit_bytes = 8u << 20;
  const PlanOutcome bomb =
      fake.run("local t = {} for i = 1, 1e9 do t[i] = {i, tostring(i)} end", {}, limits);
  CHECK(error_of(bomb).kind == ErrorKind::limit);
  CHECK(error_of(bomb).message == "memory limit of 8 MiB reached");

  const PlanOutcome next = fake.run("return 'still here'", {}, limits);
  REQUIRE_FALSE(next.error);
  CHECK(next.text == "still here");
}

TEST_CASE("a doubling string bomb hits the default 64 MiB limit") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("local s = 'x' while true do s = s .. s end");
  CHECK(error_of(outcome).kind == ErrorKind::limit);
  CHECK(error_of(outcome).message == "memory limit of 64 MiB reached");
}

TEST_CASE("a memory error caught and raised again is still kind limit") {
  FakeHost fake;
  PlanLimits limits;
  limits.memory_limit_bytes = 8u << 20;
  const PlanOutcome outcome = fake.run(R"lua(
    local ok, err = pcall(function() local s = 'x' while true do s = s .. s end end)
    error(err))lua",
                                       {}, limits);
  CHECK(error_of(outcome).kind == ErrorKind::limit);
}

TEST_CASE("running out of memory at any point of a run is a limit error, never a crash") {
  // Sweeps the cap across setup, loading, the model call and the result, so that every
  // allocation the runner makes is the one refused at some step.
  const std::string source = std::string("local r = model.chat") + kHello + R"lua(
    log(r.content)
    return json.encode({r.content, 1.5, t = {x = true}}))lua";
  bool some_succeeded = false;
  for (std::size_t limit = 1024; limit <= (48u << 10); limit += 64) {
    CAPTURE(limit);
    FakeHost fake;
    PlanLimits limits;
    limits.memory_limit_bytes = limit;
    const PlanOutcome outcome = fake.run(source, {"an argument"}, limits);
    if (outcome.error) {
      CHECK(outcome.error->kind == ErrorKind::limit);
    } else {
      some_succeeded = true;
      CHECK(outcome.text == R"({"1":"reply 1","2":1.5,"t":{"x":true}})");
    }
  }
  CHECK(some_succeeded);
}

TEST_CASE("coroutine.yield at the top of a plan is a script error") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("coroutine.yield(1)");
  CHECK(error_of(outcome).kind == ErrorKind::script);
  CHECK(contains(error_of(outcome).message, "coroutine.yield"));
  CHECK(error_of(outcome).source == "plan.lua:1");
}

TEST_CASE("log, its levels and print reach the host's log") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run(R"lua(
    log("plain", 1, nil, true)
    log.info("info")
    log.warn("careful")
    log.error("bad", {} ~= nil)
    print("printed"))lua");
  REQUIRE_FALSE(outcome.error);
  const std::vector<std::pair<LogLevel, std::string>> expected = {
      {LogLevel::info, "plain\t1\tnil\ttrue"},
      {LogLevel::info, "info"},
      {LogLevel::warn, "careful"},
      {LogLevel::error, "bad\ttrue"},
      {LogLevel::info, "printed"},
  };
  CHECK(fake.logs == expected);
}

TEST_CASE("a log line longer than log_line_max_bytes is cut") {
  FakeHost fake;
  PlanLimits limits;
  limits.log_line_max_bytes = 10;
  const PlanOutcome outcome = fake.run("local s = ('x'):rep(100) log(s, s, s)", {}, limits);
  REQUIRE_FALSE(outcome.error);
  REQUIRE(fake.logs.size() == 1);
  CHECK(fake.logs[0].second == "xxxxxxxxxx [truncated]");
}

TEST_CASE("json is available to plans") {
  FakeHost fake;
  const PlanOutcome outcome = fake.run("return json.decode(json.encode({a = {1, 2}})).a[2]");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.json == "2");
}
