// model.stream: on_delta runs live, in order, under the plan's limits; its errors stop
// the stream and reach the plan.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::LogLevel;
using perdiem::Result;
using perdiem::lua::DeltaSink;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;

namespace {

// Streams `pieces`, recording each send and each log line in one timeline, and stops
// (a cancelled call) as soon as the sink says so.
struct StreamingHost {
  std::vector<std::string> pieces{"Hel", "lo ", "world"};
  std::vector<std::string> timeline;
  int calls = 0;
  int sent = 0;
  bool stopped = false;
  bool with_stream = true;

  ChatResponse reply() const {
    ChatResponse response;
    for (const std::string& piece : pieces) response.content += piece;
    response.model = "m";
    response.provider = "fake";
    response.finish_reason = "stop";
    response.usage = {7, 3};
    return response;
  }

  PlanOutcome run(std::string_view source, const PlanLimits& limits = {}) {
    PlanHost host;
    host.chat = [this](const ChatRequest&) -> Result<ChatResponse> {
      ++calls;
      return reply();
    };
    if (with_stream) {
      host.chat_stream = [this](const ChatRequest&,
                                const DeltaSink& on_delta) -> Result<ChatResponse> {
        ++calls;
        for (const std::string& piece : pieces) {
          timeline.push_back("sent " + piece);
          ++sent;
          if (!on_delta(piece)) {
            stopped = true;
            return perdiem::make_error(ErrorKind::cancelled, "stream stopped", "fake");
          }
        }
        return reply();
      };
    }
    host.log = [this](LogLevel, std::string_view line) { timeline.emplace_back(line); };
    return perdiem::lua::run_plan(source, "plan.lua", {}, limits, host);
  }
};

constexpr const char* kAsk = "messages = {{role = 'user', content = 'hi'}}";

std::string plan(const std::string& body) {
  std::string out;
  for (std::size_t at = 0; at < body.size(); ++at) {
    if (body.compare(at, 5, "$ASK$") == 0) {
      out += kAsk;
      at += 4;
    } else {
      out += body[at];
    }
  }
  return out;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("model.stream calls on_delta live with each piece and returns model.chat's reply") {
  StreamingHost fake;
  const PlanOutcome outcome = fake.run(plan(R"lua(
    local seen = {}
    local reply = model.stream{$ASK$, on_delta = function(text)
      seen[#seen + 1] = text
      log("got " .. text)
    end}
    return {joined = table.concat(seen), count = #seen, content = reply.content,
            provider = reply.provider, output = reply.usage.output})lua"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
  const std::string expected = fake.reply().content;
  CHECK(contains(outcome.json, "\"joined\":\"" + expected + "\""));
  CHECK(contains(outcome.json, "\"content\":\"" + expected + "\""));
  CHECK(contains(outcome.json, "\"count\":" + std::to_string(fake.pieces.size())));
  CHECK(contains(outcome.json, "\"provider\":\"fake\""));
  // Live: each piece reached the plan before the next was sent.
  std::vector<std::string> interleaved;
  for (const std::string& piece : fake.pieces) {
    interleaved.push_back("sent " + piece);
    interleaved.push_back("got " + piece);
  }
  CHECK(fake.timeline == interleaved);
}

TEST_CASE("model.stream inside a coroutine the plan created answers inline, streaming too") {
  StreamingHost fake;
  const PlanOutcome outcome = fake.run(plan(R"lua(
    local seen = {}
    local co = coroutine.wrap(function()
      local reply = model.stream{$ASK$, on_delta = function(text) seen[#seen + 1] = text end}
      coroutine.yield(reply.content)
    end)
    local content = co()
    return table.concat(seen, "|") .. "=" .. content)lua"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
  CHECK(outcome.text == "Hel|lo |world=Hello world");
}

TEST_CASE("an error in on_delta stops the stream and is raised in the plan") {
  StreamingHost fake;
  SUBCASE("caught by the plan, with on_delta's message") {
    const PlanOutcome outcome = fake.run(plan(R"lua(
      local ok, err = pcall(model.stream, {$ASK$, on_delta = function(text)
        error("no thanks: " .. text)
      end})
      return tostring(ok) .. " " .. tostring(err))lua"));
    REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
    CHECK(outcome.text.starts_with("false plan.lua:"));
    CHECK(contains(outcome.text, "no thanks: Hel"));
  }
  SUBCASE("uncaught: the run fails with it") {
    const PlanOutcome outcome =
        fake.run(plan("model.stream{$ASK$, on_delta = function() error('boom') end}"));
    REQUIRE(outcome.error.has_value());
    CHECK(outcome.error->kind == ErrorKind::script);
    CHECK(contains(outcome.error->message, "boom"));
  }
  SUBCASE("a model call inside on_delta is refused, and that is what on_delta raised") {
    const PlanOutcome outcome = fake.run(plan(R"lua(
      local ok, err = pcall(model.stream, {$ASK$, on_delta = function()
        local _, e = pcall(model.chat, {$ASK$})
        error(e)
      end})
      return err)lua"));
    REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
    // model.chat refused inside on_delta: the refusal is what on_delta raised.
    CHECK(contains(outcome.text, "cannot be called inside model.stream's on_delta"));
  }
  SUBCASE("so is starting a sub-agent, which would hold the stream for a whole run") {
    const PlanOutcome outcome = fake.run(plan(R"lua(
      local ok, err = pcall(model.stream, {$ASK$, on_delta = function()
        local _, e = pcall(agent.spawn, 'worker')
        error(e)
      end})
      return err)lua"));
    REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
    CHECK(contains(outcome.text, "agent.spawn cannot be called inside model.stream's on_delta"));
  }
  CHECK(fake.stopped);
  CHECK(fake.sent == 1);  // nothing more was streamed after the error
  CHECK(fake.calls == 1);
}

TEST_CASE("on_delta runs under the plan's limits") {
  StreamingHost fake;
  PlanLimits limits;
  limits.instruction_limit = 100'000;
  const PlanOutcome outcome = fake.run(
      plan("local ok = pcall(model.stream, {$ASK$, on_delta = function() while true do end end})"
           " return 'survived'"),
      limits);
  REQUIRE(outcome.error.has_value());
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(contains(outcome.error->message, "instruction limit"));
  CHECK(fake.stopped);
  CHECK(fake.sent == 1);
}

TEST_CASE("on_delta's memory is the plan's") {
  StreamingHost fake;
  PlanLimits limits;
  limits.memory_limit_bytes = 4u << 20;
  const PlanOutcome outcome = fake.run(plan(R"lua(
    local kept = {}
    local ok = pcall(model.stream, {$ASK$, on_delta = function(text)
      for i = 1, 1e8 do kept[i] = text .. i end
    end})
    return 'survived')lua"),
                                       limits);
  REQUIRE(outcome.error.has_value());
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(contains(outcome.error->message, "memory limit"));
  CHECK(fake.stopped);
  CHECK(fake.sent == 1);
}

TEST_CASE("model.stream needs on_delta to be a function and checks fields like model.chat") {
  StreamingHost fake;
  for (const char* call : {"model.stream{$ASK$}", "model.stream{$ASK$, on_delta = 'print'}"}) {
    const PlanOutcome outcome = fake.run(plan(call));
    REQUIRE(outcome.error.has_value());
    CHECK(contains(outcome.error->message, "model.stream: on_delta must be a function"));
  }
  const PlanOutcome unknown =
      fake.run(plan("model.stream{$ASK$, on_delta = function() end, colour = 'red'}"));
  REQUIRE(unknown.error.has_value());
  CHECK(contains(unknown.error->message, "model.stream: unknown field 'colour'"));
  const PlanOutcome not_table = fake.run("model.stream('hi')");
  REQUIRE(not_table.error.has_value());
  CHECK(contains(not_table.error->message, "model.stream: expected a table"));
  CHECK(fake.calls == 0);  // nothing was sent for a malformed call
}

TEST_CASE("a host that cannot stream hands on_delta the whole answer once") {
  StreamingHost fake;
  fake.with_stream = false;
  const PlanOutcome outcome = fake.run(plan(R"lua(
    local seen = {}
    local reply = model.stream{$ASK$, on_delta = function(text) seen[#seen + 1] = text end}
    return #seen .. ":" .. seen[1] .. ":" .. reply.content)lua"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
  CHECK(outcome.text == "1:Hello world:Hello world");
}

TEST_CASE("model.stream in parallel() branches streams each to its own on_delta, in turn") {
  StreamingHost fake;
  const PlanOutcome outcome = fake.run(plan(R"lua(
    local a, b = {}, {}
    local x, y = parallel(
      function() return model.stream{$ASK$, on_delta = function(t) a[#a + 1] = t end}.content end,
      function() return model.stream{$ASK$, on_delta = function(t) b[#b + 1] = t end}.content end)
    return table.concat(a, "|") .. "/" .. table.concat(b, "|") .. "=" .. x .. "," .. y)lua"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->message);
  CHECK(outcome.text == "Hel|lo |world/Hel|lo |world=Hello world,Hello world");
  CHECK(fake.calls == 2);
}
