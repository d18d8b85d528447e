// The Anthropic Messages codec. Golden sequences follow Anthropic's public docs: the
// Messages API reference (responses, errors) and "Streaming Messages" (the basic text
// stream, the tool-use stream with input_json_delta, ping, the error event).
#include "runtime/providers/anthropic_codec.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/providers/anthropic_stream.hpp"
#include "stream_fixture.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using nlohmann::json;
using perdiem::providers::testing::run_stream;

namespace {

const std::string kTextStream = R"(event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-20250514", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

)";

// The docs' tool-use stream (text, then get_weather with its input in pieces), with a
// second tool_use block so one reply carries two calls, and cache counts in usage.
const std::string kToolStream = R"(event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-opus-4-20250514","stop_sequence":null,"usage":{"input_tokens":472,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let's check the weather for San Francisco, CA:"}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \"San Francisc"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"o, CA\", \"unit\": \"fah"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"renheit\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: content_block_start
data: {"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}}

event: content_block_stop
data: {"type":"content_block_stop","index":2}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

)";

StreamOutcome run_anthropic(std::string_view body, std::string* seen = nullptr,
                            std::int64_t input_estimate = 0) {
  AnthropicStreamAccumulator accumulator(
      "claude",
      [seen](std::string_view text) {
        if (seen != nullptr) *seen += std::string(text) + "|";
      },
      input_estimate);
  return run_stream(accumulator, body);
}

ChatRequest tool_conversation() {
  ChatRequest request;
  request.model = "claude-opus-4-20250514";
  Message assistant{"assistant", "Let me look."};
  assistant.tool_calls = {{"toolu_1", "get_weather", R"({"location":"Paris"})"},
                          {"toolu_2", "get_time", "not json"}};
  Message result_1{"tool", "18C"};
  result_1.tool_call_id = "toolu_1";
  Message result_2{"tool", "09:00"};
  result_2.tool_call_id = "toolu_2";
  request.messages = {{"system", "Be brief."},
                      {"user", "Weather and time in Paris?"},
                      assistant,
                      result_1,
                      result_2,
                      {"user", "Thanks"},
                      {"system", "Use metric."}};
  request.tools = {
      {"get_weather", "Current weather",
       R"({"type":"object","properties":{"location":{"type":"string"}},"required":["location"]})"},
      {"get_time", "", ""}};
  return request;
}

}  // namespace

TEST_CASE("anthropic encode: system prompt, blocks, tool use and merged tool results") {
  const json body = json::parse(encode_anthropic_request(tool_conversation()));
  CHECK(body["model"] == "claude-opus-4-20250514");
  CHECK(body["system"] == "Be brief.\n\nUse metric.");
  CHECK(body["max_tokens"] == 4096);  // required by the API: the default
  CHECK_FALSE(body.contains("stream"));
  const json& messages = body["messages"];
  REQUIRE(messages.size() == 3);
  CHECK(messages[0]["role"] == "user");
  CHECK(messages[0]["content"][0] ==
        json{{"type", "text"}, {"text", "Weather and time in Paris?"}});
  const json& assistant = messages[1]["content"];
  CHECK(messages[1]["role"] == "assistant");
  REQUIRE(assistant.size() == 3);
  CHECK(assistant[1]["type"] == "tool_use");
  CHECK(assistant[1]["id"] == "toolu_1");
  CHECK(assistant[1]["input"]["location"] == "Paris");
  CHECK(assistant[2]["input"] == json::object());  // unparsable arguments
  const json& results = messages[2]["content"];
  REQUIRE(results.size() == 3);
  CHECK(results[0] ==
        json{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", "18C"}});
  CHECK(results[1]["tool_use_id"] == "toolu_2");
  CHECK(results[2]["text"] == "Thanks");
  REQUIRE(body["tools"].size() == 2);
  CHECK(body["tools"][0]["input_schema"]["required"][0] == "location");
  CHECK(body["tools"][0]["description"] == "Current weather");
  CHECK(body["tools"][1]["input_schema"] ==
        json{{"type", "object"}, {"properties", json::object()}});
  CHECK_FALSE(body["tools"][1].contains("description"));
  CHECK_FALSE(body.contains("tool_choice"));
}

TEST_CASE("anthropic encode: tool results go ahead of text even when text came first") {
  ChatRequest request;
  Message result{"tool", "done"};
  result.tool_call_id = "t1";
  request.messages = {{"user", "first"}, result};
  const json body = json::parse(encode_anthropic_request(request));
  REQUIRE(body["messages"].size() == 1);
  CHECK(body["messages"][0]["content"][0]["type"] == "tool_result");
  CHECK(body["messages"][0]["content"][1]["text"] == "first");
}

TEST_CASE("anthropic encode: max_tokens, temperature, stream and tool_choice") {
  ChatRequest request = tool_conversation();
  request.max_tokens = 300;
  request.temperature = 0.5;
  const struct {
    const char* ours;
    json theirs;
  } choices[] = {{"auto", {{"type", "auto"}}},
                 {"required", {{"type", "any"}}},
                 {"none", {{"type", "none"}}},
                 {"get_time", {{"type", "tool"}, {"name", "get_time"}}}};
  for (const auto& choice : choices) {
    request.tool_choice = choice.ours;
    const json body =
        json::parse(encode_anthropic_request(request, {.default_max_tokens = 9, .stream = true}));
    CHECK(body["tool_choice"] == choice.theirs);
    CHECK(body["max_tokens"] == 300);
    CHECK(body["temperature"] == doctest::Approx(0.5));
    CHECK(body["stream"] == true);
  }
  request.max_tokens.reset();
  CHECK(json::parse(encode_anthropic_request(request, {.default_max_tokens = 9}))["max_tokens"] ==
        9);
}

TEST_CASE("anthropic headers: key, version, content type") {
  const auto headers = anthropic_request_headers("sk-ant-test");
  REQUIRE(headers.size() == 3);
  CHECK(headers[0] == std::pair<std::string, std::string>{"x-api-key", "sk-ant-test"});
  CHECK(headers[1] == std::pair<std::string, std::string>{"anthropic-version", "2023-06-01"});
  CHECK(headers[2].first == "content-type");
}

TEST_CASE("anthropic decode: a text reply with usage") {
  auto response = decode_anthropic_response(200, R"({
    "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "model": "claude-3-7-sonnet-20250219",
    "role": "assistant", "stop_reason": "end_turn", "stop_sequence": null, "type": "message",
    "usage": {"input_tokens": 2095, "output_tokens": 503}})",
                                            "claude");
  REQUIRE(response.ok());
  CHECK(response->content == "Hi! My name is Claude.");
  CHECK(response->finish_reason == "stop");
  CHECK(response->model == "claude-3-7-sonnet-20250219");
  CHECK(response->provider == "claude");
  CHECK(response->usage.input_tokens == 2095);
  CHECK(response->usage.output_tokens == 503);
  CHECK(response->usage.cached_input_tokens == 0);
}

TEST_CASE("anthropic decode: tool_use blocks and cache tokens") {
  auto response = decode_anthropic_response(200, R"({"id":"msg_01Aq9w938a90dw8q",
    "model":"claude-opus-4-20250514","stop_reason":"tool_use","role":"assistant","type":"message",
    "content":[{"type":"thinking","thinking":"hmm","signature":"x"},
      {"type":"text","text":"I'll check the current weather in San Francisco for you."},
      {"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather",
       "input":{"location":"San Francisco, CA","unit":"celsius"}},
      {"type":"tool_use","id":"toolu_02","name":"get_time","input":{}}],
    "usage":{"input_tokens":50,"cache_creation_input_tokens":20,"cache_read_input_tokens":1000,
             "output_tokens":70}})",
                                            "claude");
  REQUIRE(response.ok());
  CHECK(response->content == "I'll check the current weather in San Francisco for you.");
  CHECK(response->finish_reason == "tool_calls");
  REQUIRE(response->tool_calls.size() == 2);
  CHECK(response->tool_calls[0].id == "toolu_01A09q90qw90lq917835lq9");
  CHECK(response->tool_calls[0].name == "get_weather");
  CHECK(response->tool_calls[0].arguments ==
        R"({"location":"San Francisco, CA","unit":"celsius"})");
  CHECK(response->tool_calls[1].arguments == "{}");
  CHECK(response->usage.input_tokens == 1070);  // every prompt token, cached included
  CHECK(response->usage.cached_input_tokens == 1000);
  CHECK(response->usage.cache_write_input_tokens == 20);
}

TEST_CASE("anthropic decode: error bodies map by status, 529 overloaded is retryable") {
  struct Case {
    long status;
    const char* type;
    ErrorKind kind;
    bool retryable;
  };
  const Case cases[] = {{400, "invalid_request_error", ErrorKind::provider, false},
                        {401, "authentication_error", ErrorKind::auth, false},
                        {403, "permission_error", ErrorKind::auth, false},
                        {404, "not_found_error", ErrorKind::provider, false},
                        {413, "request_too_large", ErrorKind::provider, false},
                        {429, "rate_limit_error", ErrorKind::rate_limited, true},
                        {500, "api_error", ErrorKind::provider, true},
                        {529, "overloaded_error", ErrorKind::provider, true}};
  for (const Case& c : cases) {
    CAPTURE(c.status);
    const std::string body = encode_anthropic_error_body(c.type, "the provider says no");
    auto response = decode_anthropic_response(c.status, body, "claude");
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == c.kind);
    CHECK(response.error().retryable == c.retryable);
    CHECK(response.error().source == "claude");
    CHECK(response.error().message.find("the provider says no") != std::string::npos);
    // The same error inside a 200 maps by its type alone.
    auto in_band = decode_anthropic_response(200, body, "claude");
    REQUIRE_FALSE(in_band.ok());
    CHECK(in_band.error().kind == c.kind);
    CHECK(in_band.error().retryable == c.retryable);
  }
}

TEST_CASE("anthropic decode: malformed answers are bad_response") {
  for (
      const char* body :
      {"", "not json", "[]", R"({"type":"message"})",
       R"({"content":[],"usage":{"input_tokens":-1}})",
       R"({"content":[],"usage":{"input_tokens":9223372036854775807,"cache_read_input_tokens":1}})"}) {
    CAPTURE(body);
    auto response = decode_anthropic_response(200, body, "claude");
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::bad_response);
  }
}

TEST_CASE("anthropic decode: encode_anthropic_response round-trips") {
  ChatResponse response;
  response.model = "claude-x";
  response.content = "hello";
  response.finish_reason = "length";
  response.tool_calls = {{"toolu_9", "f", R"({"a":[1,2]})"}};
  response.usage = {100, 5, 60, 10};
  auto decoded =
      decode_anthropic_response(200, encode_anthropic_response(response, "msg_1"), "claude");
  REQUIRE(decoded.ok());
  CHECK(decoded->content == "hello");
  CHECK(decoded->finish_reason == "length");
  CHECK(decoded->tool_calls[0].arguments == R"({"a":[1,2]})");
  CHECK(decoded->usage.input_tokens == 100);
  CHECK(decoded->usage.cached_input_tokens == 60);
  CHECK(decoded->usage.cache_write_input_tokens == 10);
}

TEST_CASE("anthropic stream: the docs' text stream") {
  std::string seen;
  StreamOutcome outcome = run_anthropic(kTextStream, &seen);
  REQUIRE(outcome.ok());
  CHECK(seen == "Hello|!|");
  CHECK(outcome.response.content == "Hello!");
  CHECK(outcome.response.finish_reason == "stop");
  CHECK(outcome.response.model == "claude-opus-4-20250514");
  CHECK(outcome.usage_reported);
  CHECK(outcome.response.usage.input_tokens == 25);
  CHECK(outcome.response.usage.output_tokens == 15);
}

TEST_CASE("anthropic stream: text then two tool calls, input in pieces, cache usage") {
  StreamOutcome outcome = run_anthropic(kToolStream);
  REQUIRE(outcome.ok());
  CHECK(outcome.response.content == "Okay, let's check the weather for San Francisco, CA:");
  CHECK(outcome.response.finish_reason == "tool_calls");
  REQUIRE(outcome.response.tool_calls.size() == 2);
  const ToolCall& weather = outcome.response.tool_calls[0];
  CHECK(weather.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  CHECK(weather.name == "get_weather");
  const json arguments = json::parse(weather.arguments);
  CHECK(arguments["location"] == "San Francisco, CA");
  CHECK(arguments["unit"] == "fahrenheit");
  CHECK(outcome.response.tool_calls[1].arguments == "{}");  // no delta: the start input
  CHECK(outcome.response.usage.input_tokens == 2572);
  CHECK(outcome.response.usage.cached_input_tokens == 2000);
  CHECK(outcome.response.usage.output_tokens == 89);
}

TEST_CASE("anthropic stream: the error event fails the stream") {
  const std::string overloaded =
      "event: error\n"
      R"(data: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})"
      "\n\n";
  StreamOutcome before = run_anthropic(overloaded);
  REQUIRE_FALSE(before.ok());
  CHECK(before.error->kind == ErrorKind::provider);
  CHECK(before.error->retryable);  // nothing had arrived: another try is free
  CHECK(before.error->message.find("Overloaded") != std::string::npos);

  // After some text: never retried blindly; input counts from message_start survive.
  const std::string mid = kTextStream.substr(0, kTextStream.find("event: content_block_stop")) +
                          overloaded + "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  StreamOutcome after = run_anthropic(mid, nullptr, 3);
  REQUIRE_FALSE(after.ok());
  CHECK_FALSE(after.error->retryable);
  CHECK(after.output_received);
  CHECK_FALSE(after.usage_reported);
  CHECK(after.response.content == "Hello!");
  CHECK(after.response.usage.input_tokens == 25);
  CHECK(after.response.usage.output_tokens >= 1);
}

TEST_CASE("anthropic stream: a cut at every byte never crashes and reports what arrived") {
  for (const std::string* body : {&kTextStream, &kToolStream}) {
    const StreamOutcome whole = run_anthropic(*body);
    REQUIRE(whole.ok());
    // The stream is complete only once message_stop's blank line has arrived.
    for (std::size_t cut = 0; cut < body->size(); ++cut) {
      CAPTURE(cut);
      StreamOutcome outcome = run_anthropic(std::string_view(*body).substr(0, cut), nullptr, 40);
      REQUIRE_FALSE(outcome.ok());
      CHECK(outcome.error->kind == ErrorKind::transport);
      CHECK(outcome.error->retryable == !outcome.output_received);
      CHECK(whole.response.content.starts_with(outcome.response.content));
      // Before message_start: the caller's estimate; after it, the provider's count.
      const bool started =
          std::string_view(*body).substr(0, cut).find("\n\n") != std::string_view::npos;
      CHECK(outcome.response.usage.input_tokens ==
            (started ? whole.response.usage.input_tokens : 40));
      CHECK(outcome.response.usage.output_tokens >= 0);
    }
  }
}

TEST_CASE("anthropic stream: malformed events are bad_response; unknown ones are skipped") {
  for (const char* body :
       {"data: nope\n\n",
        "data: "
        "{\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":\"input_json_delta\","
        "\"partial_json\":\"{\"}}\n\n",
        "data: "
        "{\"type\":\"content_block_start\",\"index\":5000,\"content_block\":{\"type\":\"text\"}}"
        "\n\n",
        "data: "
        "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":\"9\"}}}\n\n"}) {
    CAPTURE(body);
    StreamOutcome outcome = run_anthropic(body);
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error->kind == ErrorKind::bad_response);
  }
  StreamOutcome skipped = run_anthropic(
      "data: {\"type\":\"brand_new_event\"}\n\n"
      "data: "
      "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
      "\"thinking\":\"x\"}}\n\n"
      "data: {\"type\":\"message_stop\"}\n\n");
  CHECK(skipped.ok());
}

TEST_CASE("anthropic stream: encode_anthropic_stream round-trips through the accumulator") {
  ChatResponse response;
  response.model = "claude-x";
  response.content = "Ça va? Très bien — merci.";
  response.finish_reason = "tool_calls";
  response.tool_calls = {{"toolu_a", "f", R"({"k":"v"})"}, {"toolu_b", "g", R"({"n":2})"}};
  response.usage = {500, 40, 300, 50};
  std::string body;
  for (const std::string& event : encode_anthropic_stream(response, "msg_1", 4)) body += event;
  CHECK(body.starts_with("event: message_start\n"));
  std::string seen;
  StreamOutcome outcome = run_anthropic(body, &seen);
  REQUIRE(outcome.ok());
  CHECK(outcome.response.content == response.content);
  CHECK(seen.starts_with("Ça v|"));
  CHECK(outcome.response.finish_reason == "tool_calls");
  REQUIRE(outcome.response.tool_calls.size() == 2);
  CHECK(outcome.response.tool_calls[1].arguments == R"({"n":2})");
  CHECK(outcome.response.usage.input_tokens == 500);
  CHECK(outcome.response.usage.cached_input_tokens == 300);
  CHECK(outcome.response.usage.cache_write_input_tokens == 50);
  CHECK(outcome.response.usage.output_tokens == 40);
}
