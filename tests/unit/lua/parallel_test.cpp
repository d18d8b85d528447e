// parallel(f1, f2, ...): branches' model calls reach the host together, results come back
// in order, errors wait for the other branches, and hostile uses end cleanly.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::make_error;
using perdiem::Result;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;

namespace {

// Answers "re:<last message>" ("fail" fails), recording how the calls arrived: one
// chat_many batch (its size) or one lone chat (size 0).
struct Recorder {
  PlanHost host;
  std::vector<std::size_t> batches;
  std::vector<std::string> asked;
  std::vector<std::chrono::nanoseconds> sleeps;  // each sleep the host was asked for
  int embeds = 0;

  static Result<ChatResponse> answer(const ChatRequest& request) {
    const std::string& last = request.messages.back().content;
    if (last == "fail") return make_error(ErrorKind::provider, "cannot answer that");
    ChatResponse response;
    response.content = "re:" + last;
    return response;
  }

  Recorder() {
    host.chat = [this](const ChatRequest& request) {
      batches.push_back(0);
      asked.push_back(request.messages.back().content);
      return answer(request);
    };
    host.chat_many = [this](const std::vector<ChatRequest>& requests) {
      batches.push_back(requests.size());
      std::vector<Result<ChatResponse>> answers;
      for (const ChatRequest& request : requests) {
        asked.push_back(request.messages.back().content);
        answers.push_back(answer(request));
      }
      return answers;
    };
    host.sleep = [this](std::chrono::nanoseconds duration) {  // returns at once
      sleeps.push_back(duration);
      return perdiem::Status{};
    };
    host.embed = [this](const perdiem::providers::EmbedRequest& request) {
      ++embeds;
      perdiem::providers::EmbedResponse response;
      for (std::size_t i = 0; i < request.inputs.size(); ++i) response.vectors.push_back({1.0f});
      return Result<perdiem::providers::EmbedResponse>(response);
    };
  }

  PlanOutcome run(std::string_view source, const PlanLimits& limits = {}) {
    return perdiem::lua::run_plan(source, "plan.lua", {}, limits, host);
  }
};

// `ask(text)` in the plans below: one model.chat, its content.
const std::string kAsk = R"(
  local function ask(text) return model.chat{messages = {{role = "user", content = text}}}.content end
)";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("parallel returns each branch's first result in argument order") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local a, b, c, d = parallel(
      function() return ask("one"), "ignored" end,
      function() return ask("two") end,
      function() return 3 end,
      function() end)
    return {a, b, c, tostring(d)}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"(["re:one","re:two",3,"nil"])");
  // The two model calls went out together, as one batch.
  CHECK(r.batches == std::vector<std::size_t>{2});
}

TEST_CASE("branches' successive calls go out in rounds, each round one batch") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local function chain(name, n)
      return function()
        local last
        for i = 1, n do last = ask(name .. i) end
        return last
      end
    end
    return table.concat({parallel(chain("a", 1), chain("b", 3), chain("c", 2))}, ",")
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "re:a1,re:b3,re:c2");
  CHECK(r.batches == std::vector<std::size_t>{3, 2, 1});
  CHECK(r.asked == std::vector<std::string>{"a1", "b1", "c1", "b2", "c2", "b3"});
}

TEST_CASE("nested parallel and chat_many in a branch join the same batch") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local x, y = parallel(
      function()
        local p, q = parallel(function() return ask("p") end, function() return ask("q") end)
        return p .. "+" .. q
      end,
      function()
        local replies = model.chat_many{{messages = {{role = "user", content = "m1"}}},
                                        {messages = {{role = "user", content = "m2"}}}}
        return replies[1].content .. "+" .. replies[2].content
      end)
    return x .. "|" .. y
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "re:p+re:q|re:m1+re:m2");
  CHECK(r.batches == std::vector<std::size_t>{4});
}

TEST_CASE("an error waits for the other branches, then the first failure by position") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local finished = {}
    local ok, err = pcall(parallel,
      function() ask("x1"); ask("x2"); finished[#finished + 1] = "x" end,
      function() ask("fail") end,
      function() ask("y1"); error("second failure") end,
      function() ask("z1"); ask("z2"); ask("z3"); finished[#finished + 1] = "z" end)
    return {kind = err.kind, message = err.message, finished = finished}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  // The provider error (branch 2) is raised as its error table, kind kept.
  CHECK(outcome.json ==
        R"({"finished":["x","z"],"kind":"provider","message":"cannot answer that"})");
  CHECK(r.batches == std::vector<std::size_t>{4, 2, 1});
}

TEST_CASE("a plain error from a branch is raised as it was, with its position") {
  Recorder r;
  const PlanOutcome outcome = r.run(R"(
    parallel(function() return 1 end, function() error("boom") end)
  )");
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::script);
  CHECK(contains(outcome.error->message, "plan.lua:2: boom"));
}

TEST_CASE("parallel inside a coroutine the plan made still sends one batch") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local run = coroutine.wrap(function()
      return table.concat({parallel(function() return ask("a") end,
                                    function() return ask("b") end)}, ",")
    end)
    return run()
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "re:a,re:b");
  CHECK(r.batches == std::vector<std::size_t>{2});
}

// The Recorder's host sleeps return at once, so a plan's sleep of minutes costs the test
// nothing: what is checked is which sleeps parallel asked the host for.
TEST_CASE("branches sleep at the same time: one sleep for the three of them") {
  Recorder r;
  const PlanOutcome outcome = r.run(R"(
    return {parallel(
      function() sleep(30); return "a" end,
      function() sleep(30); return "b" end,
      function() sleep(30); return "c" end)}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"(["a","b","c"])");
  REQUIRE(r.sleeps.size() == 1);
  CHECK(r.sleeps[0] > std::chrono::seconds(29));
  CHECK(r.sleeps[0] <= std::chrono::seconds(30));
}

TEST_CASE("the shortest sleep ends first, and the longer one sleeps on") {
  Recorder r;
  const PlanOutcome outcome = r.run(R"(
    local order = {}
    parallel(
      function() sleep(20); order[#order + 1] = "long" end,
      function() sleep(10); order[#order + 1] = "short" end)
    return order
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"(["short","long"])");
  REQUIRE(r.sleeps.size() == 2);
  CHECK(r.sleeps[0] > std::chrono::seconds(9));
  CHECK(r.sleeps[0] <= std::chrono::seconds(10));
  // What is left of the long sleep by the clock (the host's sleeps took no time).
  CHECK(r.sleeps[1] > std::chrono::seconds(19));
  CHECK(r.sleeps[1] <= std::chrono::seconds(20));
}

TEST_CASE("a sleeping branch lets the others' calls go out meanwhile") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local a, b = parallel(
      function() sleep(30); return ask("late") end,
      function() return ask("b1") .. "," .. ask("b2") end)
    return {a, b}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"(["re:late","re:b1,re:b2"])");
  CHECK(r.asked == std::vector<std::string>{"b1", "b2", "late"});
  CHECK(r.batches == std::vector<std::size_t>{1, 1, 1});
  CHECK(r.sleeps.size() == 1);
}

TEST_CASE("model.embed in a branch waits for the round's calls, then gets its answer") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local a, b = parallel(
      function() return #model.embed("hello").vector end,
      function() return ask("plain") end)
    return {a, b}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"([1,"re:plain"])");
  CHECK(r.embeds == 1);
  CHECK(r.batches == std::vector<std::size_t>{1});
}

TEST_CASE("a model error caught in a branch leaves the branch running") {
  Recorder r;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local a, b = parallel(
      function()
        local ok, err = pcall(ask, "fail")
        return (ok and "?" or err.kind) .. "," .. ask("again")
      end,
      function() return ask("fine") end)
    return a .. "|" .. b
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "provider,re:again|re:fine");
}

TEST_CASE("hostile: parallel refuses what is not a function, and too many functions") {
  Recorder r;
  PlanOutcome outcome = r.run("return parallel(function() end, 42)");
  REQUIRE(outcome.error);
  CHECK(contains(outcome.error->message, "parallel: argument 2 is a number, not a function"));

  outcome = r.run("return parallel(function() end, nil)");
  REQUIRE(outcome.error);
  CHECK(contains(outcome.error->message, "parallel: argument 2 is a nil, not a function"));

  outcome = r.run(R"(
    local fs = {}
    for i = 1, 10000 do fs[i] = function() return i end end
    return parallel(table.unpack(fs))
  )");
  REQUIRE(outcome.error);
  CHECK(contains(outcome.error->message, "parallel: give at most 1000 functions (got 10000)"));

  // The limit itself works, every result in its place.
  outcome = r.run(kAsk + R"(
    local fs = {}
    for i = 1, 1000 do fs[i] = function() return ask(tostring(i)) end end
    local results = {parallel(table.unpack(fs))}
    for i = 1, 1000 do assert(results[i] == "re:" .. i, i) end
    return #results
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "1000");
  CHECK(r.batches.back() == 1000);

  CHECK(r.run("return select('#', parallel())").text == "0");
}

TEST_CASE("hostile: an endless branch still hits the instruction limit") {
  Recorder r;
  PlanLimits limits;
  limits.instruction_limit = 1'000'000;
  const PlanOutcome outcome = r.run(kAsk + R"(
    local ok = pcall(parallel, function() return ask("a") end, function() while true do end end)
    return "survived"
  )",
                                    limits);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(contains(outcome.error->message, "instruction limit"));
  // The first branch's parked call was never sent: no answer, no charge.
  CHECK(r.asked.empty());
}

TEST_CASE("hostile: a branch cannot yield to parallel or resume another branch") {
  Recorder r;
  PlanOutcome outcome = r.run(R"(
    local ok, err = pcall(parallel, function() coroutine.yield(1) end)
    return err
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(contains(outcome.text, "a branch called coroutine.yield outside any coroutine"));

  // Branch 1 grabs branch 2's thread while it waits for its answer and resumes it.
  outcome = r.run(kAsk + R"(
    local second
    local results = {pcall(parallel,
      function()
        ask("first")
        local ok, err = coroutine.resume(second)
        return tostring(ok)
      end,
      function() second = coroutine.running(); return ask("second") end)}
    return {tostring(results[1]), tostring(results[2])}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  // The stolen resume fails inside branch 2 (no answer waits for it); parallel then
  // reports branch 2 broken.
  CHECK(outcome.json ==
        R"(["false","parallel: a branch was resumed or closed by another coroutine"])");
}

// Twenty branches each making `call` (a model call or an embedding of `big`, 1 MiB) under
// a 4 MiB heap: how many went out and how many were refused, as {sent=, refused=}.
std::string twenty_big_branches(Recorder& r, const std::string& call) {
  PlanLimits limits;
  limits.memory_limit_bytes = 4u << 20;
  const PlanOutcome outcome = r.run(R"(
    local big = string.rep("x", 1 << 20)
    local fs = {}
    for i = 1, 20 do
      fs[i] = function()
        local ok, err = pcall(function() return )" +
                                        call + R"( end)
        return ok and "sent" or err.kind
      end
    end
    local results = {parallel(table.unpack(fs))}
    local sent, refused = 0, 0
    for _, r in ipairs(results) do
      if r == "sent" then sent = sent + 1 elseif r == "invalid_argument" then refused = refused + 1 end
    end
    return {sent = sent, refused = refused}
  )",
                                    limits);
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  return outcome.json;
}

TEST_CASE("hostile: a thousand branches sending big messages cannot copy more than the heap") {
  Recorder r;
  CHECK(twenty_big_branches(r, "model.chat{messages = {{role = 'user', content = big}}}") ==
        R"({"refused":17,"sent":3})");
  CHECK(r.asked.size() == 3);
}

TEST_CASE("hostile: branches parking big embeddings cannot copy more than the heap") {
  Recorder r;
  // Parked at once, three 1 MiB copies fit under the 4 MiB heap; the rest are refused.
  CHECK(twenty_big_branches(r, "model.embed(big)") == R"({"refused":17,"sent":3})");
  CHECK(r.embeds == 3);
}

TEST_CASE("hostile: many short branches cannot run past the instruction limit uncounted") {
  Recorder r;
  PlanLimits limits;
  limits.instruction_limit = 10'000'000;
  const PlanOutcome outcome = r.run(R"(
    local fs = {}
    for i = 1, 1000 do fs[i] = function() local x = i * 2 return x end end
    for round = 1, 100 do parallel(table.unpack(fs)) end
    return "ran 100,000 branches"
  )",
                                    limits);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(contains(outcome.error->message, "instruction limit of 10000000"));
}

TEST_CASE("hostile: parallel recursing into itself ends with a clear error") {
  Recorder r;
  PlanOutcome outcome = r.run(R"(
    local function deeper() return parallel(deeper) end
    return deeper()
  )");
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::script);
  CHECK(contains(outcome.error->message, "stack overflow"));

  // Wide and deep: a fork bomb meets the memory limit, not the host's.
  PlanLimits limits;
  limits.memory_limit_bytes = 8u << 20;
  limits.instruction_limit = 0;
  outcome = r.run(R"(
    local function bomb(depth)
      local fs = {}
      for i = 1, 1000 do fs[i] = function() return bomb(depth + 1) end end
      return parallel(table.unpack(fs))
    end
    return bomb(1)
  )",
                  limits);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(contains(outcome.error->message, "memory limit of 8 MiB"));
}

TEST_CASE("a deadline passing while a batch is out ends the plan when parallel resumes") {
  Recorder r;
  auto now = std::chrono::steady_clock::time_point{};
  r.host.monotonic_time = [&now] { return now; };
  r.host.chat_many = [&](const std::vector<ChatRequest>& requests) {
    r.batches.push_back(requests.size());
    now += std::chrono::seconds(2);  // the calls take two seconds
    std::vector<Result<ChatResponse>> answers;
    for (const ChatRequest& request : requests) answers.push_back(Recorder::answer(request));
    return answers;
  };
  PlanLimits limits;
  limits.deadline = std::chrono::seconds(1);
  const PlanOutcome outcome = r.run(kAsk + R"(
    local ok = pcall(parallel, function() return ask("a") end, function() return ask("b") end)
    return "carried on"
  )",
                                    limits);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(contains(outcome.error->message, "deadline"));
  CHECK(r.batches == std::vector<std::size_t>{2});
}
