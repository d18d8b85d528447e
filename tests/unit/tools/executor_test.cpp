// The executor: unknown tools, grants, bad JSON, schema errors and handler failures all
// become tool errors; several calls run at once; paid-tool hooks fire once per call.
#include "tools/executor.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;
using providers::ToolCall;

namespace {

const json kAddSchema = json::parse(R"({"type":"object","properties":{
  "a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"],
  "additionalProperties":false})");

Tool add_tool() {
  Tool tool;
  tool.name = "math.add";
  tool.description = "adds two integers";
  tool.parameters = kAddSchema;
  tool.handler = [](const json& args, const ToolContext&) -> Result<json> {
    return json(args["a"].get<std::int64_t>() + args["b"].get<std::int64_t>());
  };
  return tool;
}

Tool failing_tool() {
  Tool tool;
  tool.name = "fails";
  tool.handler = [](const json&, const ToolContext&) -> Result<json> {
    return make_error(ErrorKind::tool, "the weather service is down");
  };
  return tool;
}

Tool throwing_tool() {
  Tool tool;
  tool.name = "throws";
  tool.handler = [](const json&, const ToolContext&) -> Result<json> {
    throw std::runtime_error("boom");
  };
  return tool;
}

}  // namespace

TEST_CASE("a valid call runs and its result becomes a tool message") {
  ToolRegistry registry;
  REQUIRE(registry.add(add_tool()).ok());
  ToolExecutor executor(registry, ToolGrants{});
  ToolOutcome outcome = executor.call(ToolCall{"c1", "math__add", R"({"a":2,"b":3})"}, {});
  CHECK_FALSE(outcome.is_error);
  CHECK(outcome.executed);
  CHECK(outcome.name == "math.add");
  CHECK(outcome.content == "5");
  auto message = to_message(outcome);
  CHECK(message.role == "tool");
  CHECK(message.tool_call_id == "c1");
  CHECK(message.content == "5");
}

TEST_CASE("failures become tool errors the model can read") {
  ToolRegistry registry;
  REQUIRE(registry.add(add_tool()).ok());
  REQUIRE(registry.add(failing_tool()).ok());
  REQUIRE(registry.add(throwing_tool()).ok());
  ToolExecutor executor(registry, ToolGrants{});

  auto unknown = executor.call({"c", "nope", "{}"}, {});
  CHECK(unknown.is_error);
  CHECK(unknown.error->kind == ErrorKind::not_found);
  CHECK(unknown.content ==
        "error: there is no tool named 'nope'; call only the tools you "
        "were given");

  auto bad_json = executor.call({"c", "math.add", "{\"a\":"}, {});
  CHECK(bad_json.is_error);
  CHECK_FALSE(bad_json.executed);
  CHECK(bad_json.content.find("not valid JSON") != std::string::npos);

  auto missing = executor.call({"c", "math.add", R"({"a":1})"}, {});
  CHECK(missing.is_error);
  CHECK(missing.error->kind == ErrorKind::invalid_argument);
  CHECK(missing.content.find("$.b: required property missing") != std::string::npos);

  auto wrong = executor.call({"c", "math.add", R"({"a":1,"b":"2"})"}, {});
  CHECK(wrong.content.find("$.b: expected integer, got string") != std::string::npos);

  auto extra = executor.call({"c", "math.add", R"({"a":1,"b":2,"c":3})"}, {});
  CHECK(extra.content.find("$.c: unexpected property") != std::string::npos);

  auto failed = executor.call({"c", "fails", ""}, {});
  CHECK(failed.is_error);
  CHECK(failed.executed);
  CHECK(failed.content == "error: the weather service is down");
  CHECK(failed.error->source == "fails");

  auto threw = executor.call({"c", "throws", ""}, {});
  CHECK(threw.is_error);
  CHECK(threw.content == "error: the tool failed: boom");

  auto not_object = executor.call({"c", "fails", "[1]"}, {});
  CHECK(not_object.content == "error: the arguments must be a JSON object, not array");
  CHECK_FALSE(not_object.executed);

  std::string deep(100, '[');
  auto nested = executor.call({"c", "math.add", deep}, {});
  CHECK(nested.content.find("nest deeper") != std::string::npos);
}

TEST_CASE("built-in tools are refused unless granted") {
  ToolRegistry registry;
  Tool tool = add_tool();
  tool.builtin = true;
  REQUIRE(registry.add(tool).ok());
  auto refused =
      ToolExecutor(registry, ToolGrants{}).call({"c", "math.add", R"({"a":1,"b":2})"}, {});
  CHECK(refused.is_error);
  CHECK(refused.content.find("--allow-tool math.add") != std::string::npos);
  ToolGrants grants;
  grants.allow("math.add");
  auto allowed = ToolExecutor(registry, grants).call({"c", "math.add", R"({"a":1,"b":2})"}, {});
  CHECK(allowed.content == "3");
}

TEST_CASE("invoke: a plan's direct call returns values and errors") {
  ToolRegistry registry;
  REQUIRE(registry.add(add_tool()).ok());
  ToolExecutor executor(registry, ToolGrants{});
  Result<json> sum = executor.invoke("math.add", json{{"a", 4}, {"b", 5}}, {});
  REQUIRE(sum.ok());
  CHECK(*sum == 9);
  Result<json> bad = executor.invoke("math.add", json{{"a", 4}}, {});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().kind == ErrorKind::invalid_argument);
}

TEST_CASE("long results are cut with a note, on a character boundary") {
  ToolRegistry registry;
  Tool big;
  big.name = "big";
  big.handler = [](const json&, const ToolContext&) -> Result<json> {
    return json("\xC3\xA9\xC3\xA9\xC3\xA9");  // three two-byte characters
  };
  REQUIRE(registry.add(big).ok());
  ExecutorLimits limits;
  limits.max_result_bytes = 3;
  auto outcome = ToolExecutor(registry, ToolGrants{}, limits).call({"c", "big", ""}, {});
  CHECK(outcome.content == "\xC3\xA9\n[result cut: 4 more bytes not shown]");
  CHECK(result_text(json("\xFF"), 100) == "\xEF\xBF\xBD");
}

TEST_CASE("several calls from one reply run concurrently and answer in call order") {
  ToolRegistry registry;
  std::atomic<int> running{0};
  std::atomic<int> peak{0};
  Tool slow;
  slow.name = "slow";
  slow.parameters = {{"type", "object"}, {"properties", {{"n", {{"type", "integer"}}}}}};
  slow.handler = [&](const json& args, const ToolContext& context) -> Result<json> {
    int now = ++running;
    int seen = peak.load();
    while (now > seen && !peak.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    --running;
    return json{{"n", args["n"]}, {"call", context.call_id}};
  };
  REQUIRE(registry.add(slow).ok());
  ExecutorLimits limits;
  limits.max_parallel_calls = 3;
  ToolExecutor executor(registry, ToolGrants{}, limits);
  std::vector<ToolCall> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back({"id" + std::to_string(i), "slow", "{\"n\":" + std::to_string(i) + "}"});
  }
  auto start = std::chrono::steady_clock::now();
  auto outcomes = executor.call_all(calls, {});
  auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(outcomes.size() == 6);
  for (int i = 0; i < 6; ++i) {
    CHECK(outcomes[i].call_id == "id" + std::to_string(i));
    CHECK(json::parse(outcomes[i].content)["n"] == i);
    CHECK(json::parse(outcomes[i].content)["call"] == "id" + std::to_string(i));
  }
  CHECK(peak == 3);  // the cap holds, and calls did overlap
  CHECK(elapsed < std::chrono::milliseconds(550));
}

TEST_CASE("hooks: a paid tool is reserved before and settled once after each call") {
  ToolRegistry registry;
  Tool paid = add_tool();
  paid.price_nanos = 2'000'000;
  REQUIRE(registry.add(paid).ok());
  std::atomic<std::int64_t> reserved{0};
  std::atomic<std::int64_t> settled{0};
  std::atomic<int> after_calls{0};
  ToolCallHooks hooks;
  hooks.before_call = [&](const Tool& tool, const ToolContext& context) -> Status {
    if (context.call_id == "broke") {
      return make_error(ErrorKind::insufficient_credits, "not enough credit for " + tool.name);
    }
    reserved += tool.price_nanos.value_or(0);
    return {};
  };
  hooks.after_call = [&](const Tool& tool, const ToolContext&, const ToolOutcome& outcome) {
    ++after_calls;
    if (outcome.executed) settled += tool.price_nanos.value_or(0);
  };
  ToolExecutor executor(registry, ToolGrants{}, {}, hooks);
  auto ok = executor.call({"c1", "math.add", R"({"a":1,"b":2})"}, {});
  CHECK(ok.content == "3");
  auto invalid = executor.call({"c2", "math.add", R"({"a":1})"}, {});  // never reserved
  CHECK(invalid.is_error);
  auto broke = executor.call({"broke", "math.add", R"({"a":1,"b":2})"}, {});
  CHECK(broke.is_error);
  CHECK(broke.content == "error: not enough credit for math.add");
  CHECK(reserved == 2'000'000);
  CHECK(settled == 2'000'000);
  CHECK(after_calls == 1);
}
