// The tool loop against a scripted model: results fed back in order, errors corrected,
// the round limit, model errors.
#include "tools/tool_loop.hpp"

#include <doctest/doctest.h>

#include <deque>

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;
using providers::ChatResponse;
using providers::Message;
using providers::ToolCall;

namespace {

// Replies from a script, and remembers what it was sent each time.
struct ScriptedModel {
  std::deque<Result<ChatResponse>> replies;
  std::vector<std::vector<Message>> seen;

  ModelCall callback() {
    return [this](const std::vector<Message>& messages) -> Result<ChatResponse> {
      seen.push_back(messages);
      REQUIRE_FALSE(replies.empty());
      Result<ChatResponse> reply = replies.front();
      replies.pop_front();
      return reply;
    };
  }
};

ChatResponse calls(std::vector<ToolCall> tool_calls) {
  ChatResponse r;
  r.finish_reason = "tool_calls";
  r.tool_calls = std::move(tool_calls);
  return r;
}

ChatResponse answer(std::string text) {
  ChatResponse r;
  r.content = std::move(text);
  r.finish_reason = "stop";
  return r;
}

void fill(ToolRegistry& registry) {
  Tool add;
  add.name = "add";
  add.parameters = json::parse(R"({"type":"object","properties":{"a":{"type":"integer"},
    "b":{"type":"integer"}},"required":["a","b"]})");
  add.handler = [](const json& args, const ToolContext&) -> Result<json> {
    return json(args["a"].get<int>() + args["b"].get<int>());
  };
  REQUIRE(registry.add(add).ok());
}

}  // namespace

TEST_CASE("model -> two tool calls -> model answers") {
  ToolRegistry registry;
  fill(registry);
  ToolExecutor executor(registry, ToolGrants{});
  ScriptedModel model;
  model.replies.push_back(
      calls({{"a", "add", R"({"a":1,"b":2})"}, {"b", "add", R"({"a":3,"b":4})"}}));
  model.replies.push_back(answer("3 and 7"));
  auto loop = run_tool_loop({Message{"user", "add things"}}, model.callback(), executor, {});
  REQUIRE(loop.ok());
  CHECK(loop->stop == ToolLoopStop::answered);
  CHECK(loop->rounds == 1);
  CHECK(loop->response.content == "3 and 7");
  REQUIRE(model.seen.size() == 2);
  const auto& second = model.seen[1];
  REQUIRE(second.size() == 4);
  CHECK(second[1].role == "assistant");
  CHECK(second[1].tool_calls.size() == 2);
  CHECK(second[2].role == "tool");
  CHECK(second[2].tool_call_id == "a");
  CHECK(second[2].content == "3");
  CHECK(second[3].tool_call_id == "b");
  CHECK(second[3].content == "7");
  CHECK(loop->messages.size() == 4);
}

TEST_CASE("an invalid call goes back as a tool error and the model corrects it") {
  ToolRegistry registry;
  fill(registry);
  ToolExecutor executor(registry, ToolGrants{});
  ScriptedModel model;
  model.replies.push_back(calls({{"x", "add", R"({"a":1})"}}));
  model.replies.push_back(calls({{"y", "add", R"({"a":1,"b":1})"}}));
  model.replies.push_back(answer("2"));
  auto loop = run_tool_loop({Message{"user", "1+1"}}, model.callback(), executor, {});
  REQUIRE(loop.ok());
  CHECK(loop->rounds == 2);
  REQUIRE(loop->outcomes.size() == 2);
  CHECK(loop->outcomes[0].is_error);
  CHECK(model.seen[1].back().content.find("$.b: required property missing") != std::string::npos);
  CHECK(model.seen[2].back().content == "2");
}

TEST_CASE("the loop stops at the round limit without running the extra calls") {
  ToolRegistry registry;
  fill(registry);
  ToolExecutor executor(registry, ToolGrants{});
  ScriptedModel model;
  for (int i = 0; i < 3; ++i) model.replies.push_back(calls({{"c", "add", R"({"a":1,"b":1})"}}));
  auto loop =
      run_tool_loop({Message{"user", "loop"}}, model.callback(), executor, {}, ToolLoopLimits{2});
  REQUIRE(loop.ok());
  CHECK(loop->stop == ToolLoopStop::round_limit);
  CHECK(loop->rounds == 2);
  CHECK(loop->outcomes.size() == 2);
  CHECK(loop->response.tool_calls.size() == 1);  // the unanswered request
  CHECK(model.seen.size() == 3);
}

TEST_CASE("a model error ends the loop with that error") {
  ToolRegistry registry;
  fill(registry);
  ToolExecutor executor(registry, ToolGrants{});
  ScriptedModel model;
  model.replies.push_back(calls({{"c", "add", R"({"a":1,"b":1})"}}));
  model.replies.push_back(make_error(ErrorKind::insufficient_credits, "no credit"));
  auto loop = run_tool_loop({Message{"user", "x"}}, model.callback(), executor, {});
  REQUIRE_FALSE(loop.ok());
  CHECK(loop.error().kind == ErrorKind::insufficient_credits);
}
