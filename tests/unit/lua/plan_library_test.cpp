// The plan library (scripts/perdiem/*.lua) against a host that answers by rule and prices
// calls per model: what each module sends, in what order, and when it stops.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::make_error;
using perdiem::Result;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
using perdiem::lua::WalletSnapshot;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A host whose answer to each call is `reply(model, last message)`; records every call
// (model, text) and each batch's size. Prices: quote[model] reserved, cost[model] charged.
struct Library {
  PlanHost host;
  std::function<Result<std::string>(const std::string& model, const std::string& text)> reply =
      [](const std::string&, const std::string& text) { return Result<std::string>("re:" + text); };
  std::vector<std::pair<std::string, std::string>> calls;
  std::vector<std::size_t> batches;
  std::map<std::string, std::int64_t> quote;
  std::map<std::string, std::int64_t> cost;
  WalletSnapshot balance{1'000'000'000, 0, 0};

  // When set, answers every call in place of `reply` (for tool calls).
  std::function<Result<ChatResponse>(const ChatRequest&)> respond;

  Result<ChatResponse> answer(const ChatRequest& request) {
    calls.emplace_back(request.model, request.messages.back().content);
    if (respond) return respond(request);
    Result<std::string> text = reply(request.model, request.messages.back().content);
    if (!text.ok()) return text.error();
    ChatResponse response;
    response.content = text.value();
    response.model = request.model;
    response.cost_nanos = cost.count(request.model) ? cost[request.model] : 0;
    return response;
  }

  Library() {
    host.module_paths = {PERDIEM_SOURCE_DIR "/scripts"};
    host.chat = [this](const ChatRequest& request) {
      batches.push_back(1);
      return answer(request);
    };
    host.chat_many = [this](const std::vector<ChatRequest>& requests) {
      batches.push_back(requests.size());
      std::vector<Result<ChatResponse>> answers;
      for (const ChatRequest& request : requests) answers.push_back(answer(request));
      return answers;
    };
    host.wallet_quote = [this](const ChatRequest& request) -> Result<std::int64_t> {
      return quote.count(request.model) ? quote[request.model] : 0;
    };
    host.wallet_balance = [this]() -> Result<WalletSnapshot> { return balance; };
  }

  PlanOutcome run(std::string_view source) {
    return perdiem::lua::run_plan(source, "plan.lua", {}, PlanLimits{}, host);
  }
};

std::string texts(const Library& library) {
  std::string joined;
  for (const auto& [model, text] : library.calls) joined += (joined.empty() ? "" : "|") + text;
  return joined;
}

}  // namespace

// ---- react ----------------------------------------------------------------------------

namespace {

// A model that asks for the `ping` tool on every turn and never answers.
Library tool_happy() {
  Library library;
  library.respond = [](const ChatRequest&) -> Result<ChatResponse> {
    ChatResponse response;
    response.tool_calls.push_back({"call-1", "ping", "{}"});
    return response;
  };
  return library;
}

constexpr const char* kPing =
    "local pings = 0\n"
    "tool.define{name = 'ping', description = 'Answers pong',\n"
    "            params = {type = 'object', properties = {}},\n"
    "            fn = function() pings = pings + 1 return 'pong' end}\n"
    "local react = require 'perdiem.react'\n";

}  // namespace

TEST_CASE("react stops a model that calls tools forever after max_rounds, with a limit error") {
  Library library = tool_happy();
  const PlanOutcome outcome = library.run(std::string(kPing) + R"(
    local ok, err = pcall(react.run, {task = "t", tools = {"ping"}, max_rounds = 3})
    return {ok = ok, kind = err.kind, message = err.message, pings = pings}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json ==
        R"({"kind":"limit","message":"react: still calling tools after 3 rounds","ok":false,)"
        R"("pings":3})");
  // One model call per round, and every round's tool ran: nothing past the limit.
  CHECK(library.calls.size() == 3);
}

TEST_CASE("react's default limit is 8 rounds, and uncaught it ends the run as kind: message") {
  Library library = tool_happy();
  const PlanOutcome outcome =
      library.run(std::string(kPing) + "return react.run{task = 't', tools = {'ping'}}");
  REQUIRE(outcome.error);
  // The library raises a plain {kind=, message=} table (a script cannot make a real
  // error table), so the run's own kind is `script`, its message starting "limit: ".
  CHECK(outcome.error->kind == ErrorKind::script);
  CHECK(outcome.error->message.rfind("limit: react: still calling tools after 8 rounds", 0) == 0);
  CHECK(outcome.text.empty());
  CHECK(library.calls.size() == 8);
}

TEST_CASE("react answers in the round the model stops calling tools, under the limit") {
  Library library;
  library.respond = [&library](const ChatRequest&) -> Result<ChatResponse> {
    ChatResponse response;
    if (library.calls.size() < 3) {
      response.tool_calls.push_back({"call-1", "ping", "{}"});
    } else {
      response.content = "done";
    }
    return response;
  };
  // max_rounds = 3 is exactly enough: two tool rounds and the answer.
  const PlanOutcome outcome = library.run(std::string(kPing) + R"(
    local answer, info = react.run{task = "t", tools = {"ping"}, max_rounds = 3}
    return {answer = answer, rounds = info.rounds, tool_calls = info.tool_calls, pings = pings}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"({"answer":"done","pings":2,"rounds":3,"tool_calls":2})");
  CHECK(library.calls.size() == 3);
}

// ---- map_reduce ---------------------------------------------------------------------

TEST_CASE("map_reduce keeps input order and never has more than `concurrency` in flight") {
  Library library;
  const PlanOutcome outcome = library.run(R"(
    local mr = require "perdiem.map_reduce"
    local items = {}
    for i = 1, 10 do items[i] = "item" .. i end
    -- Items take 1 to 3 calls each, so they finish out of input order.
    local results, info = mr.run{
      items = items,
      concurrency = 3,
      map = function(item, index)
        local last
        for k = 1, (index % 3) + 1 do
          last = model.chat{messages = {{role = "user", content = item .. "#" .. k}}}.content
        end
        return last
      end,
    }
    return {results = results, failed = info.failed, count = info.count}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  std::string expected = R"({"count":10,"failed":0,"results":[)";
  for (int i = 1; i <= 10; ++i) {
    expected += (i > 1 ? "," : "") + std::string("\"re:item") + std::to_string(i) + "#" +
                std::to_string(i % 3 + 1) + "\"";
  }
  CHECK(outcome.json == expected + "]}");
  std::size_t largest = 0;
  for (std::size_t size : library.batches) largest = std::max(largest, size);
  CHECK(largest == 3);  // the limit, used fully and never passed
  std::size_t total = 0;
  for (int i = 1; i <= 10; ++i) total += static_cast<std::size_t>(i % 3 + 1);
  CHECK(library.calls.size() == total);
}

TEST_CASE("map_reduce templates: the map prompt per item, the reduce prompt over all") {
  Library library;
  const PlanOutcome outcome = library.run(R"(
    local mr = require "perdiem.map_reduce"
    local answer, info = mr.run{
      items = {"a", "b", {n = 1}},
      map = "Upper-case {item} (item {index}); 100% sure",
      reduce = "Merge:\n{results}",
    }
    return answer
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(library.batches == std::vector<std::size_t>{3, 1});
  CHECK(library.calls[0].second == "Upper-case a (item 1); 100% sure");
  CHECK(library.calls[2].second == R"(Upper-case {"n":1} (item 3); 100% sure)");
  CHECK(outcome.text ==
        "re:Merge:\n1. re:Upper-case a (item 1); 100% sure\n2. re:Upper-case b (item 2); 100% "
        "sure\n3. re:Upper-case {\"n\":1} (item 3); 100% sure");
}

TEST_CASE("map_reduce reports failed items, or raises the first with fail_fast") {
  Library library;
  library.reply = [](const std::string&, const std::string& text) -> Result<std::string> {
    if (text == "bad") return make_error(ErrorKind::provider, "no answer for bad");
    return "re:" + text;
  };
  PlanOutcome outcome = library.run(R"(
    local mr = require "perdiem.map_reduce"
    local n, info = mr.run{
      items = {"ok1", "bad", "ok3", "bad", "ok5"},
      map = "{item}",
      concurrency = 2,
      reduce = function(results, info)
        local kept = 0
        for i = 1, info.count do if results[i] then kept = kept + 1 end end
        return kept
      end,
    }
    return {kept = n, failed = info.failed, kind2 = info.errors[2].kind,
            missing = info.results[4] == nil, third = info.results[3]}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json ==
        R"({"failed":2,"kept":3,"kind2":"provider","missing":true,"third":"re:ok3"})");

  library.calls.clear();
  outcome = library.run(R"(
    local mr = require "perdiem.map_reduce"
    return mr.run{items = {"ok1", "bad", "ok3", "ok4", "ok5", "ok6"}, map = "{item}",
                  concurrency = 2, fail_fast = true}
  )");
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::provider);
  CHECK(outcome.error->message == "no answer for bad");
  // ok1 and bad were in flight; after the failure only the other worker's next item ran.
  CHECK(texts(library) == "ok1|bad|ok3");
}

TEST_CASE("map_reduce checks its arguments") {
  Library library;
  const std::pair<const char*, const char*> cases[] = {
      {"mr.run('x')", "map_reduce.run: expected an options table"},
      {"mr.run{map = '{item}'}", "map_reduce.run: items must be an array"},
      {"mr.run{items = {}}", "map must be a function(item, index) or a prompt template string"},
      {"mr.run{items = {}, map = '{item}', concurrency = 0}",
       "concurrency must be an integer from 1 to 16"},
      {"mr.run{items = {}, map = '{item}', reduce = 3}", "reduce must be a function"},
  };
  for (const auto& [call, message] : cases) {
    CAPTURE(call);
    const PlanOutcome outcome =
        library.run(std::string("local mr = require 'perdiem.map_reduce'\n") + call);
    REQUIRE(outcome.error);
    CHECK(contains(outcome.error->message, message));
    CHECK(contains(outcome.error->message, "plan.lua:2:"));  // the caller's line
  }
  CHECK(library.calls.empty());
}

// ---- refine ---------------------------------------------------------------------------

TEST_CASE("refine revises until the check approves, and stops there") {
  Library library;
  const PlanOutcome outcome = library.run(R"(
    local refine = require "perdiem.refine"
    local seen = {}
    local text, info = refine.run{
      task = "write it",
      max_rounds = 5,
      check = function(draft, round)
        seen[#seen + 1] = round
        if round < 2 then return false, "more" end
        return true
      end,
    }
    return {rounds = info.rounds, approved = info.approved, seen = seen,
            history = #info.history, revised = text:find("^re:Revise") ~= nil}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json ==
        R"({"approved":true,"history":3,"revised":true,"rounds":2,"seen":[0,1,2]})");
  REQUIRE(library.calls.size() == 3);  // the draft and two revisions, nothing after approval
  CHECK(library.calls[0].second == "write it");
  CHECK(contains(library.calls[1].second, "Critique:\nmore"));
  CHECK(contains(library.calls[1].second, "Draft:\nre:write it"));
}

TEST_CASE("refine returns the last draft unapproved when the rounds run out") {
  Library library;
  const PlanOutcome outcome = library.run(R"(
    local refine = require "perdiem.refine"
    local text, info = refine.run{task = "t", draft = "mine", max_rounds = 2,
                                  check = function() return false, "no" end}
    return {approved = info.approved, rounds = info.rounds, history = #info.history,
            first = info.history[1].draft}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"({"approved":false,"first":"mine","history":3,"rounds":2})");
  CHECK(library.calls.size() == 2);  // the given draft is not re-written; two revisions
}

TEST_CASE("refine's model critic approves with APPROVED, on the critic model") {
  Library library;
  library.reply = [](const std::string& model, const std::string& text) -> Result<std::string> {
    if (model == "judge") {
      return std::string(contains(text, "Draft:\nsecond") ? "APPROVED" : "needs work");
    }
    return std::string(contains(text, "Critique:\nneeds work") ? "second" : "first");
  };
  const PlanOutcome outcome = library.run(R"(
    local refine = require "perdiem.refine"
    local text, info = refine.run{task = "t", critic_model = "judge"}
    return {text = text, approved = info.approved, rounds = info.rounds}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"({"approved":true,"rounds":1,"text":"second"})");
  std::vector<std::string> models;
  for (const auto& call : library.calls) models.push_back(call.first);
  CHECK(models == std::vector<std::string>{"", "judge", "", "judge"});
}

// ---- cascade --------------------------------------------------------------------------

namespace {

// The small model answers "small", the big one "big"; small quotes 100 and costs 80, big
// quotes 5000 and costs 4000.
Library priced() {
  Library library;
  library.reply = [](const std::string& model, const std::string&) -> Result<std::string> {
    return model;
  };
  library.quote = {{"small", 100}, {"big", 5000}};
  library.cost = {{"small", 80}, {"big", 4000}};
  return library;
}

std::string cascade_plan(const std::string& check, const std::string& budget) {
  return R"(
    local cascade = require "perdiem.cascade"
    local answer, info = cascade.run{task = "q", models = {"small", "big"},
      check = function(answer) return )" +
         check + R"(, "rejected " .. answer end, )" + budget + R"(}
    return {answer = answer, model = info.model, accepted = info.accepted,
            refused = info.refused or "", spent = info.spent_nanos,
            escalations = info.escalations, tried = #info.tried}
  )";
}

}  // namespace

TEST_CASE("cascade stops at the cheap model when its answer passes the check") {
  Library library = priced();
  const PlanOutcome outcome = library.run(cascade_plan("true", "budget_nanos = 100000"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(
      outcome.json ==
      R"({"accepted":true,"answer":"small","escalations":0,"model":"small","refused":"","spent":80,"tried":1})");
  CHECK(library.calls.size() == 1);
}

TEST_CASE("cascade escalates exactly when the check fails, within the budget") {
  Library library = priced();
  const PlanOutcome outcome = library.run(cascade_plan("answer == 'big'", "budget_nanos = 5080"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(
      outcome.json ==
      R"({"accepted":true,"answer":"big","escalations":1,"model":"big","refused":"","spent":4080,"tried":2})");
  CHECK(library.calls.size() == 2);
}

TEST_CASE("cascade refuses an escalation the budget cannot cover and keeps the cheap answer") {
  Library library = priced();
  // 80 spent + a worst case of 5000 is one nano-USD past 5079.
  const PlanOutcome outcome = library.run(cascade_plan("answer == 'big'", "budget_nanos = 5079"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(contains(outcome.json, R"("accepted":false,"answer":"small")"));
  CHECK(contains(outcome.json, "not escalating to big could cost up to $0.000005000"));
  CHECK(contains(outcome.json, "of the budget $0.000005079"));
  CHECK(library.calls.size() == 1);  // the big model was never called
}

TEST_CASE("cascade refuses an escalation the wallet's balance cannot cover") {
  Library library = priced();
  library.balance = WalletSnapshot{3000, 1000, 0};  // 4000 < the big model's 5000
  const PlanOutcome outcome = library.run(cascade_plan("answer == 'big'", "budget = 1"));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(contains(outcome.json, "the wallet holds $0.000004000"));
  CHECK(library.calls.size() == 1);
}

TEST_CASE("cascade: the wallet refusing the call itself also ends the cascade") {
  Library library = priced();
  library.reply = [](const std::string& model, const std::string&) -> Result<std::string> {
    if (model == "big") return make_error(ErrorKind::budget_exceeded, "run budget reached");
    return model;
  };
  const PlanOutcome outcome = library.run(cascade_plan("false", ""));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(contains(outcome.json, R"("answer":"small")"));
  CHECK(contains(outcome.json, "not escalating to big: run budget reached"));
}

TEST_CASE("cascade with no affordable model raises budget_exceeded, calling nothing") {
  Library library = priced();
  const PlanOutcome outcome = library.run(cascade_plan("true", "budget_nanos = 50"));
  REQUIRE(outcome.error);
  CHECK(contains(outcome.error->message, "budget_exceeded: cascade: cannot afford any model"));
  CHECK(library.calls.empty());
}

TEST_CASE("cascade returns the strongest answer unaccepted when every check fails") {
  Library library = priced();
  const PlanOutcome outcome = library.run(cascade_plan("false", ""));
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(contains(outcome.json, R"("accepted":false,"answer":"big")"));
  CHECK(contains(outcome.json, R"("refused":"")"));
}

TEST_CASE("cascade checks its arguments") {
  Library library;
  for (const auto& [call, message] : std::vector<std::pair<std::string, std::string>>{
           {"c.run{task = 'q', check = print}", "models must be a non-empty array"},
           {"c.run{task = 'q', models = {'a'}}", "check must be a function"},
           {"c.run{models = {'a'}, check = print}", "give task (a string) or messages"},
           {"c.run{task = 'q', models = {'a', 2}, check = print}", "models[2] must be a string"},
           {"c.run{task = 'q', models = {'a'}, check = print, budget = -1}", "budget must be"},
       }) {
    CAPTURE(call);
    const PlanOutcome outcome = library.run("local c = require 'perdiem.cascade'\nreturn " + call);
    REQUIRE(outcome.error);
    CHECK(contains(outcome.error->message, "cascade.run: " + message));
  }
}

// ---- plan_execute ---------------------------------------------------------------------

TEST_CASE("plan_execute plans, runs each step with the results before it, then answers") {
  Library library;
  library.reply = [](const std::string&, const std::string& text) -> Result<std::string> {
    if (contains(text, "numbered plan")) return std::string("1. gather 2. weigh\n3. pick");
    if (text.rfind("Results of the steps:", 0) == 0) return std::string("final answer");
    return "done:" + text.substr(0, text.find('\n'));
  };
  const PlanOutcome outcome = library.run(R"(
    local pe = require "perdiem.plan_execute"
    local answer, info = pe.run{goal = "choose a library"}
    return {answer = answer, steps = #info.steps, second = info.steps[2].result,
            dropped = info.dropped}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"({"answer":"final answer","dropped":0,"second":"done:weigh","steps":3})");
  REQUIRE(library.calls.size() == 5);
  CHECK(library.calls[1].second.rfind("gather\n", 0) == 0);
  CHECK(contains(library.calls[2].second, "Results so far:\n1. gather -> done:gather"));
  CHECK(contains(library.calls[4].second, "3. pick -> done:pick"));
}

TEST_CASE("plan_execute carries out at most max_steps and refuses a plan with no steps") {
  Library library;
  library.reply = [](const std::string&, const std::string& text) -> Result<std::string> {
    if (contains(text, "numbered plan")) return std::string("1. a\n2. b\n3. c\n4. d");
    return std::string("ok");
  };
  PlanOutcome outcome = library.run(R"(
    local pe = require "perdiem.plan_execute"
    local _, info = pe.run{goal = "g", max_steps = 2}
    return {steps = #info.steps, dropped = info.dropped}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"({"dropped":2,"steps":2})");
  CHECK(library.calls.size() == 4);  // plan, two steps, the answer

  library.reply = [](const std::string&, const std::string&) -> Result<std::string> {
    return std::string("I would rather not plan");
  };
  outcome = library.run(R"(
    local pe = require "perdiem.plan_execute"
    local ok, err = pcall(pe.run, {goal = "g"})
    return {kind = err.kind, message = err.message}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(contains(outcome.json, R"("kind":"bad_response")"));
  CHECK(contains(outcome.json, "no numbered steps: I would rather not plan"));
}

TEST_CASE("plan_execute reads numbered steps that count up from 1, on lines or inline") {
  Library library;
  const PlanOutcome outcome = library.run(R"(
    local pe = require "perdiem.plan_execute"
    return {
      pe.parse_steps("1. buy 3. apples 2) eat them\n3. rest"),
      pe.parse_steps("Plan:\n1. one\n2. two"),
      pe.parse_steps("no steps here 2. really"),
    }
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"([["buy 3. apples","eat them","rest"],["one","two"],{}])");
}

TEST_CASE("plan_execute with tools carries each step out as a react loop with them") {
  Library library;
  std::vector<std::size_t> tools_offered;
  library.respond = [&](const ChatRequest& request) -> Result<ChatResponse> {
    ChatResponse response;
    const auto& last = request.messages.back();
    tools_offered.push_back(request.tools.size());
    if (contains(last.content, "numbered plan")) {
      response.content = "1. note the answer";
    } else if (last.role == "tool") {
      response.content = "noted: " + last.content;
    } else if (last.content.rfind("note the answer", 0) == 0) {
      response.tool_calls.push_back({"call-1", "notes__add", R"({"text": "42"})"});
    } else {
      response.content = "final";
    }
    return response;
  };
  const PlanOutcome outcome = library.run(R"(
    local notes = {}
    tool.define{name = "notes.add", description = "Keeps a note",
                params = {type = "object", properties = {text = {type = "string"}}, required = {"text"}},
                fn = function(args) notes[#notes + 1] = args.text; return "kept" end}
    local pe = require "perdiem.plan_execute"
    local answer, info = pe.run{goal = "g", tools = {"notes.add"}}
    return {answer = answer, result = info.steps[1].result, notes = notes}
  )");
  REQUIRE_MESSAGE(!outcome.error, outcome.error->describe());
  CHECK(outcome.json == R"({"answer":"final","notes":["42"],"result":"noted: kept"})");
  // The planner and the final answer get no tools; both turns of the step do.
  CHECK(tools_offered == std::vector<std::size_t>{0, 1, 1, 0});
}

TEST_CASE("plan_execute checks its arguments") {
  Library library;
  for (const auto& [call, message] : std::vector<std::pair<std::string, std::string>>{
           {"pe.run{}", "goal must be a non-empty string"},
           {"pe.run{goal = 'g', max_steps = 0}", "max_steps must be an integer from 1 to 20"},
           {"pe.run{goal = 'g', tools = 'fs.read'}", "tools must be an array of tool names"},
       }) {
    CAPTURE(call);
    const PlanOutcome outcome =
        library.run("local pe = require 'perdiem.plan_execute'\nreturn " + call);
    REQUIRE(outcome.error);
    CHECK(contains(outcome.error->message, "plan_execute.run: " + message));
  }
  CHECK(library.calls.empty());
}
