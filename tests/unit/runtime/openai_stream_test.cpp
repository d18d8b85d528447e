// Streaming chat completions, golden sequences shaped as in OpenAI's API reference
// ("The chat completion chunk object", the function-calling guide's streaming section,
// stream_options.include_usage) and OpenRouter's streaming docs (comments, mid-stream
// errors, usage.cost).
#include "runtime/providers/openai_stream.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/providers/openai_codec.hpp"
#include "stream_fixture.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using nlohmann::json;
using perdiem::providers::testing::run_stream;

namespace {

const std::string kTextStream =
    R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null})"
    "\n\n"
    R"(data: {"id":"chatcmpl-123","object":"chat.completion.chunk","created":1694268190,"model":"gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", "choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"prompt_tokens_details":{"cached_tokens":4}}})"
    "\n\n"
    "data: [DONE]\n\n";

// Two calls to get_weather in one reply, their arguments in pieces and interleaved, as
// the function-calling guide streams them ("id": null, "name": null after the first).
const std::string kTwoToolCalls =
    ": OPENROUTER PROCESSING\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_DdmO9pD3xa9XTPNJ32zg2hcA","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":null,"type":null,"function":{"name":null,"arguments":"{\""}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"location\":\"Paris"}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"location\":"}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":", France\"}"}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"Bogotá, Colombia\"}"}}]},"finish_reason":null}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})"
    "\n\n"
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4.1","choices":[],"usage":{"prompt_tokens":80,"completion_tokens":40,"total_tokens":120,"cost":0.00042}})"
    "\n\n"
    "data: [DONE]\n\n";

StreamOutcome run_openai(std::string_view body, std::string* seen = nullptr,
                         std::int64_t input_estimate = 0) {
  OpenAiStreamAccumulator accumulator(
      "testprov",
      [seen](std::string_view text) {
        if (seen != nullptr) *seen += std::string(text) + "|";
      },
      input_estimate);
  return run_stream(accumulator, body);
}

}  // namespace

TEST_CASE("openai stream: encode asks for a stream with usage") {
  ChatRequest request;
  request.model = "m";
  request.messages = {{"user", "hi"}};
  const json body = json::parse(encode_chat_stream_request(request));
  CHECK(body["stream"] == true);
  CHECK(body["stream_options"]["include_usage"] == true);
  CHECK(json::parse(encode_chat_request(request))["stream"] == false);
  CHECK_FALSE(json::parse(encode_chat_request(request)).contains("stream_options"));
}

TEST_CASE("openai stream: a text stream yields deltas, then the whole reply and usage") {
  std::string seen;
  StreamOutcome outcome = run_openai(kTextStream, &seen);
  REQUIRE(outcome.ok());
  CHECK(seen == "Hello|!|");  // the empty first content is not a delta
  CHECK(outcome.response.content == "Hello!");
  CHECK(outcome.response.finish_reason == "stop");
  CHECK(outcome.response.model == "gpt-4o-mini");
  CHECK(outcome.response.provider == "testprov");
  CHECK(outcome.usage_reported);
  CHECK(outcome.output_received);
  CHECK(outcome.response.usage.input_tokens == 9);
  CHECK(outcome.response.usage.output_tokens == 2);
  CHECK(outcome.response.usage.cached_input_tokens == 4);
  CHECK(outcome.response.tool_calls.empty());
}

TEST_CASE("openai stream: two tool calls assembled from interleaved pieces") {
  std::string seen;
  StreamOutcome outcome = run_openai(kTwoToolCalls, &seen);
  REQUIRE(outcome.ok());
  CHECK(seen.empty());
  CHECK(outcome.response.content.empty());
  CHECK(outcome.response.finish_reason == "tool_calls");
  REQUIRE(outcome.response.tool_calls.size() == 2);
  const ToolCall& paris = outcome.response.tool_calls[0];
  CHECK(paris.id == "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  CHECK(paris.name == "get_weather");
  CHECK(paris.arguments == R"({"location":"Paris, France"})");
  const ToolCall& bogota = outcome.response.tool_calls[1];
  CHECK(bogota.id == "call_abc");
  CHECK(json::parse(bogota.arguments)["location"] == "Bogotá, Colombia");
  CHECK(outcome.response.usage.input_tokens == 80);
  CHECK(outcome.response.provider_cost_nanos == 420'000);
}

TEST_CASE("openai stream: a cut at every byte never crashes and reports what arrived") {
  for (const std::string* body : {&kTextStream, &kTwoToolCalls}) {
    const StreamOutcome whole = run_openai(*body);
    REQUIRE(whole.ok());
    for (std::size_t cut = 0; cut < body->size(); ++cut) {
      CAPTURE(cut);
      StreamOutcome outcome = run_openai(std::string_view(*body).substr(0, cut), nullptr, 50);
      REQUIRE_FALSE(outcome.ok());
      CHECK(outcome.error->kind == ErrorKind::transport);
      CHECK(outcome.error->source == "testprov");
      CHECK(outcome.error->retryable == !outcome.output_received);
      CHECK(whole.response.content.starts_with(outcome.response.content));
      CHECK(outcome.response.tool_calls.size() <= whole.response.tool_calls.size());
      if (outcome.usage_reported) {
        CHECK(outcome.response.usage.input_tokens == whole.response.usage.input_tokens);
      } else {
        CHECK(outcome.response.usage.input_tokens == 50);  // the caller's estimate
        CHECK(outcome.response.usage.output_tokens >= 0);
      }
    }
  }
}

TEST_CASE("openai stream: partial output is estimated when usage never came") {
  const std::string body = R"(data: {"choices":[{"index":0,"delta":{"content":"abcdefghij"}}]})"
                           "\n\n";
  StreamOutcome outcome = run_openai(body, nullptr, 12);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.output_received);
  CHECK_FALSE(outcome.usage_reported);
  CHECK_FALSE(outcome.error->retryable);  // the provider bills what it generated
  CHECK(outcome.error->message.find("cut off") != std::string::npos);
  CHECK(outcome.response.content == "abcdefghij");
  CHECK(outcome.response.usage.input_tokens == 12);
  CHECK(outcome.response.usage.output_tokens == 3);  // ceil(10 / 4)
}

TEST_CASE("openai stream: an empty stream is a retryable cut with nothing received") {
  StreamOutcome outcome = run_openai("");
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error->kind == ErrorKind::transport);
  CHECK(outcome.error->retryable);
  CHECK_FALSE(outcome.output_received);
}

TEST_CASE("openai stream: an error mid-stream (OpenRouter's shape) fails as the provider") {
  const std::string body =
      R"(data: {"id":"cmpl-abc123","object":"chat.completion.chunk","created":1234567890,"model":"gpt-3.5-turbo","choices":[{"index":0,"delta":{"content":"The answer"},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"cmpl-abc123","object":"chat.completion.chunk","created":1234567890,"model":"gpt-3.5-turbo","provider":"openai","error":{"code":"server_error","message":"Provider disconnected unexpectedly"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]})"
      "\n\n"
      R"(data: {"choices":[{"index":0,"delta":{"content":" ignored"}}]})"
      "\n\n"
      "data: [DONE]\n\n";
  StreamOutcome outcome = run_openai(body);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error->kind == ErrorKind::provider);
  CHECK(outcome.error->message.find("Provider disconnected unexpectedly") != std::string::npos);
  CHECK_FALSE(outcome.error->retryable);  // output had arrived
  CHECK(outcome.output_received);
  CHECK(outcome.response.content == "The answer");
}

TEST_CASE("openai stream: an error before any output keeps its kind and is retryable") {
  StreamOutcome limited =
      run_openai("data: {\"error\":{\"message\":\"slow down\",\"code\":429}}\n\n");
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error->kind == ErrorKind::rate_limited);
  CHECK(limited.error->retryable);

  StreamOutcome vllm = run_openai(
      "data: {\"object\":\"error\",\"message\":\"context too long\",\"type\":\"BadRequestError\","
      "\"code\":400}\n\n");
  REQUIRE_FALSE(vllm.ok());
  CHECK(vllm.error->message.find("context too long") != std::string::npos);
}

TEST_CASE("openai stream: malformed chunks and bad usage are bad_response") {
  for (const char* body :
       {"data: {not json\n\n", "data: [1,2]\n\n",
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-5}}\n\n",
        "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":100000}]}}]}\n\n"}) {
    CAPTURE(body);
    StreamOutcome outcome = run_openai(body);
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error->kind == ErrorKind::bad_response);
  }
}

TEST_CASE("openai stream: tool-call pieces without an index follow their id") {
  const std::string body =
      R"(data: {"choices":[{"delta":{"tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}}]}}]})"
      "\n\n"
      R"(data: {"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"}"}}]}}]})"
      "\n\n"
      R"(data: {"choices":[{"delta":{"tool_calls":[{"id":"b","function":{"name":"g","arguments":{"x":1}}}]}}]})"
      "\n\n"
      R"(data: {"choices":[{"delta":{"tool_calls":[{"id":"a","function":{}}]}}]})"
      "\n\n"
      "data: [DONE]\n\n";
  StreamOutcome outcome = run_openai(body);
  REQUIRE(outcome.ok());
  REQUIRE(outcome.response.tool_calls.size() == 2);
  CHECK(outcome.response.tool_calls[0].arguments == "{}");
  CHECK(outcome.response.tool_calls[1].name == "g");
  CHECK(outcome.response.tool_calls[1].arguments == R"({"x":1})");
  CHECK_FALSE(outcome.usage_reported);
}

TEST_CASE("openai stream: a stream without a usage chunk completes with an estimate") {
  const std::string body = R"(data: {"choices":[{"index":0,"delta":{"content":"hey"}}]})"
                           "\n\ndata: [DONE]\n\n";
  StreamOutcome outcome = run_openai(body, nullptr, 7);
  REQUIRE(outcome.ok());
  CHECK_FALSE(outcome.usage_reported);
  CHECK(outcome.response.usage.input_tokens == 7);
  CHECK(outcome.response.usage.output_tokens == 1);
}

TEST_CASE("openai stream: encode_chat_stream round-trips through the accumulator") {
  ChatResponse response;
  response.model = "sim-1";
  response.content = "Grüße, world — ünïcödé text that spans pieces";
  response.finish_reason = "tool_calls";
  response.tool_calls = {{"call_1", "lookup", R"({"q":"perdiem"})"},
                         {"call_2", "add", R"({"a":1,"b":2})"}};
  response.usage = {30, 12, 10, 0};
  std::string body;
  for (const std::string& event : encode_chat_stream(response, "chatcmpl-1", 1700000000, 3)) {
    body += event;
  }
  CHECK(body.ends_with("data: [DONE]\n\n"));
  std::string seen;
  StreamOutcome outcome = run_openai(body, &seen);
  REQUIRE(outcome.ok());
  CHECK(outcome.response.content == response.content);
  CHECK(outcome.response.finish_reason == "tool_calls");
  CHECK(outcome.response.model == "sim-1");
  REQUIRE(outcome.response.tool_calls.size() == 2);
  CHECK(outcome.response.tool_calls[1].id == "call_2");
  CHECK(outcome.response.tool_calls[1].arguments == response.tool_calls[1].arguments);
  CHECK(outcome.response.usage.input_tokens == 30);
  CHECK(outcome.response.usage.cached_input_tokens == 10);
  CHECK(seen.starts_with("Grü|"));
}
