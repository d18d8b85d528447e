// PlanTask: a plan a driver resumes, its waits answered later and in any order.
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lua/plan_task.hpp"

using perdiem::ErrorKind;
using perdiem::Result;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanTask;
using perdiem::lua::PlanWait;
using perdiem::lua::SpawnResult;
using perdiem::providers::ChatResponse;
using perdiem::providers::EmbedResponse;

namespace {

ChatResponse reply(std::string text) {
  ChatResponse response;
  response.content = std::move(text);
  response.provider = "fake";
  response.finish_reason = "stop";
  return response;
}

// A host whose plan can spawn `child` (child.lua beside the plan, as require resolves it)
// and must leave awaiting it to the task's driver.
struct ChildHost {
  explicit ChildHost(const char* child_source, const char* tag)
      : directory(std::filesystem::temp_directory_path() /
                  (std::string(tag) + "_" + std::to_string(::getpid()))) {
    std::filesystem::create_directories(directory);
    std::ofstream(directory / "child.lua") << child_source;
    host.script_directory = directory.string();
    host.spawn = [](const perdiem::lua::SpawnRequest&) { return Result<std::string>("run-child"); };
    host.await_spawn = [](const std::string&) -> Result<SpawnResult> {
      FAIL("the driver answers the child, not the host");
      return SpawnResult{};
    };
  }
  ~ChildHost() {
    std::error_code ignored;
    std::filesystem::remove_all(directory, ignored);
  }
  std::filesystem::path directory;
  PlanHost host;
};

}  // namespace

TEST_CASE("two tasks on one thread are answered out of order, each getting its own answer") {
  PlanHost host;  // no callbacks: every wait is answered by the test
  const char* source =
      "local a = model.chat{messages={{role='user', content=agent.args[1]}}}\n"
      "local b = model.chat{messages={{role='user', content=a.content}}}\n"
      "return agent.args[1] .. ':' .. b.content\n";
  PlanTask first(source, "first.lua", {"one"}, PlanLimits{}, host);
  PlanTask second(source, "second.lua", {"two"}, PlanLimits{}, host);
  REQUIRE(first.resume() == PlanWait::chat);
  REQUIRE(second.resume() == PlanWait::chat);
  CHECK(first.chat_request().messages.at(0).content == "one");
  CHECK(second.chat_request().messages.at(0).content == "two");
  // The second is answered first; each request stays the task's own.
  second.answer_chat(reply("echo " + second.chat_request().messages.at(0).content));
  REQUIRE(second.resume() == PlanWait::chat);
  CHECK(second.chat_request().messages.at(0).content == "echo two");
  first.answer_chat(reply("echo " + first.chat_request().messages.at(0).content));
  REQUIRE(first.resume() == PlanWait::chat);
  first.answer_chat(reply("done-1"));
  second.answer_chat(reply("done-2"));
  REQUIRE(first.resume() == PlanWait::finished);
  REQUIRE(second.resume() == PlanWait::finished);
  CHECK(first.take_outcome().text == "one:done-1");
  CHECK(second.take_outcome().text == "two:done-2");
}

TEST_CASE("a failed call reaches the plan as a catchable error table") {
  PlanHost host;
  PlanTask task(
      "local ok, e = pcall(model.chat, {messages={{role='user', content='x'}}})\n"
      "return e.kind .. '/' .. e.message\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::chat);
  task.answer_chat(perdiem::make_error(ErrorKind::rate_limited, "slow down", "fake"));
  REQUIRE(task.resume() == PlanWait::finished);
  CHECK(task.take_outcome().text == "rate_limited/slow down");
}

TEST_CASE("sleep, chat_many, embed and child:await each become a wait of their own kind") {
  ChildHost child_host("return {answer='!'}\n", "plan_task_test");
  PlanHost& host = child_host.host;
  host.embed = [](const perdiem::providers::EmbedRequest&) -> Result<EmbedResponse> {
    FAIL("the driver answers the embedding, not the host");
    return EmbedResponse{};
  };
  PlanTask task(
      "sleep(0.25)\n"
      "local many = model.chat_many{{messages={{role='user', content='a'}}},\n"
      "                             {messages={{role='user', content='b'}}}}\n"
      "local v = model.embed('hello')\n"
      "local child = agent.spawn('child', {})\n"
      "local value = child:await()\n"
      "return many[1].content .. many[2].content .. #v.vector .. value.answer\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::sleep);
  CHECK(task.sleep_duration() == std::chrono::milliseconds(250));
  task.answer_sleep();
  REQUIRE(task.resume() == PlanWait::chat_many);
  REQUIRE(task.many_requests().size() == 2);
  std::vector<Result<ChatResponse>> answers;
  answers.emplace_back(reply("A"));
  answers.emplace_back(reply("B"));
  task.answer_many(std::move(answers));
  REQUIRE(task.resume() == PlanWait::embed);
  CHECK(task.embed_request().inputs.at(0) == "hello");
  EmbedResponse embedded;
  embedded.vectors = {{1.0f, 0.0f, 0.0f}};
  task.answer_embed(embedded);
  REQUIRE(task.resume() == PlanWait::child);
  CHECK(task.child_run_id() == "run-child");
  task.answer_child(SpawnResult{"run-child", R"({"answer":"!"})", 0});
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "AB3!");
}

TEST_CASE("a sleep past the deadline is cut to it, and the plan ends with the deadline's error") {
  PlanHost host;
  PlanLimits limits;
  limits.deadline = std::chrono::milliseconds(200);
  PlanTask task("sleep(60)\nreturn 'woke'\n", "plan.lua", {}, limits, host);
  REQUIRE(task.resume() == PlanWait::sleep);
  CHECK(task.sleep_duration() <= std::chrono::milliseconds(200));
  CHECK(task.sleep_duration() > std::chrono::milliseconds(100));
  task.answer_sleep();
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
}

TEST_CASE("parallel's sleeping branches are one sleep of the task, not a held thread") {
  PlanHost host;
  host.sleep = [](std::chrono::nanoseconds) -> perdiem::Status {
    FAIL("the driver sleeps for the task, not the host");
    return {};
  };
  PlanTask task(
      "local a, b = parallel(function() sleep(0.5); return 'a' end,\n"
      "                      function() sleep(0.5); return 'b' end)\n"
      "return a .. b\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::sleep);
  CHECK(task.sleep_duration() <= std::chrono::milliseconds(500));
  CHECK(task.sleep_duration() > std::chrono::milliseconds(400));
  task.answer_sleep();
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "ab");
}

TEST_CASE("a branch sleeping past the deadline ends the plan with the deadline's error") {
  PlanHost host;
  PlanLimits limits;
  limits.deadline = std::chrono::milliseconds(200);
  PlanTask task(
      "local ok = pcall(parallel, function() sleep(60) end, function() return 1 end)\n"
      "return 'carried on'\n",
      "plan.lua", {}, limits, host);
  REQUIRE(task.resume() == PlanWait::sleep);
  CHECK(task.sleep_duration() <= std::chrono::milliseconds(200));
  task.answer_sleep();
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(outcome.error->message.find("deadline") != std::string::npos);
}

TEST_CASE("a cancelled task ends with kind cancelled when next resumed") {
  std::atomic<bool> cancel{false};
  PlanHost host;
  host.cancel = &cancel;
  PlanTask task("model.chat{messages={{role='user', content='x'}}}\nreturn 'finished'\n",
                "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::chat);
  cancel = true;
  CHECK(task.cancel_requested());
  task.answer_chat(reply("late"));
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::cancelled);
}

TEST_CASE("a plan that does not compile is finished before its first resume") {
  PlanHost host;
  PlanTask task("return (", "broken.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::script);
  CHECK(outcome.error->source == "broken.lua:1");
}

TEST_CASE("answer_from_host answers each wait as run_plan does") {
  int chats = 0;
  PlanHost host;
  host.chat = [&chats](const perdiem::providers::ChatRequest& request) {
    ++chats;
    return Result<ChatResponse>(reply("re: " + request.messages.at(0).content));
  };
  PlanTask task(
      "local r = model.chat{messages={{role='user', content='hi'}}}\n"
      "sleep(0.001)\n"
      "return r.content\n",
      "plan.lua", {}, PlanLimits{}, host);
  while (task.resume() != PlanWait::finished) task.answer_from_host();
  CHECK(task.take_outcome().text == "re: hi");
  CHECK(chats == 1);
}

TEST_CASE("host tool calls are a wait of their own: tool.call and tool.run park them") {
  PlanHost host;
  int called_inline = 0;  // the task must leave host tools to its driver
  host.call_tool = [&called_inline](const std::string&, const std::string&) -> Result<std::string> {
    ++called_inline;
    return std::string("inline");
  };
  host.call_tools = [&called_inline](const std::vector<std::pair<std::string, std::string>>& calls) {
    ++called_inline;
    return std::vector<Result<std::string>>(calls.size(), std::string("inline"));
  };
  SUBCASE("tool.call: the result as a Lua value, an error as a catchable table") {
    PlanTask task(
        "local found = tool.call('orders.lookup', {order = 7})\n"
        "local ok, err = pcall(tool.call, 'orders.lookup', {order = 8})\n"
        "return found.status .. ' ' .. err.kind .. ' ' .. err.message\n",
        "call.lua", {}, PlanLimits{}, host);
    REQUIRE(task.resume() == PlanWait::tools);
    REQUIRE(task.tool_calls().size() == 1);
    CHECK(task.tool_calls()[0].first == "orders.lookup");
    CHECK(nlohmann::json::parse(task.tool_calls()[0].second) == nlohmann::json{{"order", 7}});
    std::vector<Result<std::string>> first;
    first.emplace_back(std::string(R"({"status":"shipped"})"));
    task.answer_tools(std::move(first));
    REQUIRE(task.resume() == PlanWait::tools);
    std::vector<Result<std::string>> second;
    second.emplace_back(perdiem::make_error(ErrorKind::tool, "no such order", "orders.lookup"));
    task.answer_tools(std::move(second));
    REQUIRE(task.resume() == PlanWait::finished);
    CHECK(task.take_outcome().text == "shipped tool no such order");
  }
  SUBCASE("tool.run: host calls parked together, the plan's Lua tools run after, in order") {
    PlanTask task(
        "tool.define{name = 'local.twice', fn = function(a) return a.n * 2 end}\n"
        "local messages = tool.run{\n"
        "  {id = 'a', name = 'clock.now', arguments = '{}'},\n"
        "  {id = 'b', name = 'local.twice', arguments = '{\"n\": 21}'},\n"
        "  {id = 'c', name = 'http.fetch', arguments = '{\"url\": \"http://x\"}'},\n"
        "}\n"
        "local out = {}\n"
        "for _, m in ipairs(messages) do out[#out + 1] = m.tool_call_id .. '=' .. m.content end\n"
        "return table.concat(out, ' ')\n",
        "run.lua", {}, PlanLimits{}, host);
    REQUIRE(task.resume() == PlanWait::tools);
    REQUIRE(task.tool_calls().size() == 2);
    CHECK(task.tool_calls()[0].first == "clock.now");
    CHECK(task.tool_calls()[1].first == "http.fetch");
    std::vector<Result<std::string>> answers;
    answers.emplace_back(std::string("noon"));
    answers.emplace_back(perdiem::make_error(ErrorKind::tool, "host not allowed", "http.fetch"));
    task.answer_tools(std::move(answers));
    REQUIRE(task.resume() == PlanWait::finished);
    CHECK(task.take_outcome().text == "a=noon b=42 c=error: host not allowed");
  }
  CHECK(called_inline == 0);
}

TEST_CASE("a parallel branch's embedding and tool calls are waits of the task, one at a time") {
  PlanHost host;
  int called_inline = 0;  // the task must leave them to its driver
  host.call_tool = [&called_inline](const std::string&, const std::string&) -> Result<std::string> {
    ++called_inline;
    return std::string("inline");
  };
  host.call_tools =
      [&called_inline](const std::vector<std::pair<std::string, std::string>>& calls) {
        ++called_inline;
        return std::vector<Result<std::string>>(calls.size(), std::string("inline"));
      };
  host.embed = [&called_inline](const perdiem::providers::EmbedRequest&) -> Result<EmbedResponse> {
    ++called_inline;
    return EmbedResponse{};
  };
  PlanTask task(
      "local a, b, c = parallel(\n"
      "  function() return #model.embed('hello').vector end,\n"
      "  function() return tool.call('orders.lookup', {order = 7}).status end,\n"
      "  function() return model.chat{messages={{role='user', content='x'}}}.content end)\n"
      "return a .. ' ' .. b .. ' ' .. c\n",
      "plan.lua", {}, PlanLimits{}, host);
  // The round's chat goes first; the embedding and the tool call wait their turn.
  REQUIRE(task.resume() == PlanWait::chat_many);
  REQUIRE(task.many_requests().size() == 1);
  std::vector<Result<ChatResponse>> answers;
  answers.emplace_back(reply("X"));
  task.answer_many(std::move(answers));
  REQUIRE(task.resume() == PlanWait::embed);
  CHECK(task.embed_request().inputs.at(0) == "hello");
  EmbedResponse embedded;
  embedded.vectors = {{1.0f, 0.0f}};
  task.answer_embed(embedded);
  REQUIRE(task.resume() == PlanWait::tools);
  REQUIRE(task.tool_calls().size() == 1);
  CHECK(task.tool_calls()[0].first == "orders.lookup");
  std::vector<Result<std::string>> found;
  found.emplace_back(std::string(R"({"status":"shipped"})"));
  task.answer_tools(std::move(found));
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "2 shipped X");
  CHECK(called_inline == 0);
}

TEST_CASE("a parallel branch's model.stream is a stream wait of the task, with its on_delta") {
  PlanHost host;
  host.chat_stream = [](const perdiem::providers::ChatRequest&,
                        const perdiem::lua::DeltaSink&) -> Result<ChatResponse> {
    FAIL("the driver streams the branch's call, not the host inline");
    return reply("?");
  };
  PlanTask task(
      "local seen = {}\n"
      "local a, b = parallel(\n"
      "  function() return model.stream{messages={{role='user', content='s'}},\n"
      "    on_delta = function(t) seen[#seen + 1] = t end}.content end,\n"
      "  function() return 'plain' end)\n"
      "return a .. ' ' .. b .. ' ' .. table.concat(seen, '|')\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::stream);
  CHECK(task.chat_request().messages.at(0).content == "s");
  perdiem::lua::DeltaSink sink = task.delta_sink();
  CHECK(sink("Hel"));
  CHECK(sink("lo"));
  task.answer_chat(reply("Hello"));
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "Hello plain Hel|lo");
}

TEST_CASE("a parallel branch's child:await() is a child wait of the task") {
  ChildHost child_host("return 'x'\n", "plan_task_branch");
  PlanTask task(
      "local child = agent.spawn('child', {})\n"
      "local a, b = parallel(function() return child:await().answer end,\n"
      "                      function() return 'other' end)\n"
      "return a .. ' ' .. b\n",
      "plan.lua", {}, PlanLimits{}, child_host.host);
  REQUIRE(task.resume() == PlanWait::child);
  CHECK(task.child_run_id() == "run-child");
  task.answer_child(SpawnResult{"run-child", R"({"answer":"!"})", 0});
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "! other");
}

TEST_CASE("a plan ending while parallel holds parked requests frees them") {
  // Cancelled with an embedding and tool calls parked: the state's close must destroy
  // them (the sanitizers' leak check sees one that is not).
  PlanHost host;
  std::atomic<bool> cancel{false};
  host.cancel = &cancel;
  PlanTask task(
      "parallel(function() return model.embed(string.rep('x', 1000)) end,\n"
      "         function() return tool.call('orders.lookup', {order = 7}) end,\n"
      "         function() return model.chat{messages={{role='user', content='x'}}} end)\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::chat_many);
  std::vector<Result<ChatResponse>> answers;
  answers.emplace_back(reply("X"));
  task.answer_many(std::move(answers));
  REQUIRE(task.resume() == PlanWait::embed);
  cancel = true;
  task.answer_embed(perdiem::make_error(ErrorKind::cancelled, "the run was cancelled"));
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::cancelled);
}

TEST_CASE("a coroutine the plan runs passes its model calls up: a generator of answers") {
  PlanHost host;
  host.chat = [](const perdiem::providers::ChatRequest&) -> Result<ChatResponse> {
    FAIL("the driver answers the coroutine's calls, not the host");
    return reply("?");
  };
  PlanTask task(
      "local ask = coroutine.wrap(function()\n"
      "  for i = 1, 2 do\n"
      "    coroutine.yield(model.chat{messages={{role='user', content='q' .. i}}}.content)\n"
      "  end\n"
      "end)\n"
      "local a = ask()\n"
      "local b = ask()\n"
      "return a .. b\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::chat);
  CHECK(task.chat_request().messages.at(0).content == "q1");
  task.answer_chat(reply("A"));
  REQUIRE(task.resume() == PlanWait::chat);
  CHECK(task.chat_request().messages.at(0).content == "q2");
  task.answer_chat(reply("B"));
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "AB");
}

TEST_CASE("coroutine.resume passes a sleep up and keeps the coroutine's own yields and errors") {
  PlanHost host;
  PlanTask task(
      "local co = coroutine.create(function(x)\n"
      "  sleep(0.25)\n"
      "  local y = coroutine.yield(x + 1)\n"
      "  error('boom ' .. y)\n"
      "end)\n"
      "local ok1, v1 = coroutine.resume(co, 1)\n"
      "local ok2, v2 = coroutine.resume(co, 10)\n"
      "local ok3, v3 = coroutine.resume(co)\n"
      "return table.concat({tostring(ok1), v1, tostring(ok2), v2, tostring(ok3), v3}, ' ')\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::sleep);
  CHECK(task.sleep_duration() == std::chrono::milliseconds(250));
  task.answer_sleep();
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "true 2 false plan.lua:4: boom 10 false cannot resume dead coroutine");
}

TEST_CASE("a coroutine resumed from a callback cannot pass its wait up: answered in place") {
  int chats = 0;
  PlanHost host;
  host.chat = [&chats](const perdiem::providers::ChatRequest&) -> Result<ChatResponse> {
    ++chats;
    return reply("inline");
  };
  PlanTask task(
      "local seen\n"
      "table.sort({2, 1}, function(a, b)\n"
      "  seen = seen or coroutine.wrap(function()\n"
      "    return model.chat{messages={{role='user', content='x'}}}.content\n"
      "  end)()\n"
      "  return a < b\n"
      "end)\n"
      "return seen\n",
      "plan.lua", {}, PlanLimits{}, host);
  REQUIRE(task.resume() == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.text == "inline");
  CHECK(chats == 1);
}

TEST_CASE("a limit hit in a coroutine after its wait ends the plan") {
  PlanHost host;
  PlanLimits limits;
  limits.instruction_limit = 1'000'000;
  PlanTask task(
      "local ok = pcall(coroutine.wrap(function()\n"
      "  model.chat{messages={{role='user', content='x'}}}\n"
      "  while true do end\n"
      "end))\n"
      "return 'survived'\n",
      "plan.lua", {}, limits, host);
  REQUIRE(task.resume() == PlanWait::chat);
  task.answer_chat(reply("A"));
  PlanWait wait = task.resume();
  while (wait == PlanWait::preempted) wait = task.resume();
  REQUIRE(wait == PlanWait::finished);
  const auto outcome = task.take_outcome();
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
}

TEST_CASE("a task told to answer model.chat inline asks the host without waiting") {
  int asked = 0;
  PlanHost host;
  host.chat = [&asked](const perdiem::providers::ChatRequest& request) -> Result<ChatResponse> {
    ++asked;
    return reply("re: " + request.messages.at(0).content);
  };
  const char* source =
      "local a = model.chat{messages={{role='user', content='one'}}}\n"
      "local ok, e = pcall(model.chat, {messages={{role='user', content=''}}, max_tokens=0})\n"
      "local b = model.chat{messages={{role='user', content=a.content}}}\n"
      "return b.content .. '|' .. tostring(ok)\n";
  PlanTask task(source, "inline.lua", {}, PlanLimits{}, host);
  task.answer_chat_inline();
  // Both calls are answered within one resume: no PlanWait::chat reaches the driver.
  REQUIRE(task.resume() == PlanWait::finished);
  CHECK(asked == 2);
  CHECK(task.take_outcome().text == "re: re: one|false");

  // Without it, the same plan waits for its driver at each call.
  asked = 0;
  PlanTask waiting(source, "waiting.lua", {}, PlanLimits{}, host);
  REQUIRE(waiting.resume() == PlanWait::chat);
  CHECK(asked == 0);
}
