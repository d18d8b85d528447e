// The mock provider's streams over loopback, read by a plain HTTP client as they arrive:
// OpenAI chunks (usage on request, tool-call deltas), cut streams, slow drips, and the
// Anthropic Messages API whole and streamed.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "mock_fixture.hpp"
#include "runtime/providers/anthropic_codec.hpp"
#include "runtime/providers/anthropic_stream.hpp"
#include "runtime/providers/openai_stream.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace perdiem::providers::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kChat = "/v1/chat/completions";
constexpr const char* kMessages = "/v1/messages";
const std::string kLongText =
    "reply with exactly: the quick brown fox jumps over the lazy dog, twice over and more";

// The JSON chunks of an OpenAI stream, without the final [DONE].
std::vector<json> chunks_of(const Streamed& s) {
  std::vector<json> out;
  for (const auto& e : s.events) {
    if (e.data != "[DONE]") out.push_back(json::parse(e.data));
  }
  return out;
}

std::string anthropic_body(const std::string& text, bool stream, const std::string& extra = {}) {
  return R"({"model":"claude-sim","max_tokens":256,"messages":[{"role":"user","content":")" + text +
         R"("}])" + (stream ? R"(,"stream":true)" : "") + extra + "}";
}

}  // namespace

TEST_CASE("a streamed chat answers chat.completion.chunk events ending in [DONE]") {
  auto server = start_mock();
  const Streamed s = post_streaming(*server, kChat, chat_body(kLongText, true));
  CHECK(s.status == 200);
  CHECK(s.content_type.starts_with("text/event-stream"));
  CHECK(s.complete);
  REQUIRE(s.events.size() >= 4);
  CHECK(s.events.back().data == "[DONE]");
  std::string text;
  for (const json& chunk : chunks_of(s)) {
    CHECK(chunk["object"] == "chat.completion.chunk");
    REQUIRE(chunk["choices"].size() == 1);  // no usage chunk unless asked for
    CHECK_FALSE(chunk.contains("usage"));
    if (chunk["choices"][0]["delta"].contains("content"))
      text += chunk["choices"][0]["delta"]["content"].get<std::string>();
  }
  CHECK(text == kLongText.substr(std::string("reply with exactly: ").size()));
  CHECK(chunks_of(s).front()["choices"][0]["delta"]["role"] == "assistant");
  CHECK(server->requests_with_status(200) == 1);
}

TEST_CASE("stream_options.include_usage adds the usage chunk just before [DONE]") {
  auto server = start_mock();
  const Streamed s = post_streaming(*server, kChat, chat_body(kLongText, true, true));
  REQUIRE(s.events.size() >= 3);
  const json usage = json::parse(s.events[s.events.size() - 2].data);
  CHECK(usage["choices"].empty());
  CHECK(usage["usage"]["completion_tokens"].get<int>() > 0);
  CHECK(usage["usage"]["prompt_tokens"].get<int>() > 0);
  // The client-side decoder reads the same answer as a non-streamed call would give.
  OpenAiStreamAccumulator acc("mock");
  for (const auto& e : s.events) REQUIRE(acc.feed(e.data).ok());
  StreamOutcome outcome = acc.finish();
  REQUIRE(outcome.ok());
  CHECK(outcome.usage_reported);
  CHECK(outcome.response.usage.output_tokens ==
        usage["usage"]["completion_tokens"].get<std::int64_t>());
}

TEST_CASE("a streamed answer carries the sim's tool calls as tool_call deltas") {
  auto server = start_mock();
  const std::string body =
      R"({"model":"sim-1","stream":true,"messages":[{"role":"user","content":"call tool lookup with {\"q\":\"perdiem\"}"}],)"
      R"("tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object"}}}]})";
  const Streamed s = post_streaming(*server, kChat, body);
  REQUIRE(s.status == 200);
  std::string name, arguments, finish;
  for (const json& chunk : chunks_of(s)) {
    const json& choice = chunk["choices"][0];
    if (choice["finish_reason"].is_string()) finish = choice["finish_reason"];
    if (!choice["delta"].contains("tool_calls")) continue;
    const json& call = choice["delta"]["tool_calls"][0];
    CHECK(call["index"] == 0);
    if (call.contains("id")) name = call["function"]["name"];
    arguments += call["function"]["arguments"].get<std::string>();
  }
  CHECK(name == "lookup");
  CHECK(json::parse(arguments) == json{{"q", "perdiem"}});
  CHECK(finish == "tool_calls");
}

TEST_CASE("cut_after_chunks closes the connection after exactly K events") {
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
    CAPTURE(cut);
    MockProviderOptions options;
    options.cut_after_chunks = cut;
    auto server = start_mock(options);
    const Streamed s = post_streaming(*server, kChat, chat_body(kLongText, true, true));
    CHECK(s.status == 200);  // the headers went out before the cut
    CHECK_FALSE(s.complete);
    CHECK(s.events.size() == cut);
    CHECK(s.body.find("[DONE]") == std::string::npos);
    CHECK(server->requests_with_status(200) == 1);
  }
  // A cut beyond the end is no cut at all.
  MockProviderOptions options;
  options.cut_after_chunks = 1000;
  auto server = start_mock(options);
  const Streamed s = post_streaming(*server, kChat, chat_body(kLongText, true));
  CHECK(s.complete);
  CHECK(s.events.back().data == "[DONE]");
}

TEST_CASE("chunk_delay drips the events out one at a time") {
  MockProviderOptions options;
  options.chunk_delay = 40ms;
  auto server = start_mock(options);
  const auto started = std::chrono::steady_clock::now();
  const Streamed s = post_streaming(*server, kChat, chat_body(kLongText, true));
  REQUIRE(s.complete);
  REQUIRE(s.events.size() >= 5);
  CHECK(std::chrono::steady_clock::now() - started >= 40ms * s.events.size());
  // Loosely: the events arrive spread out, not in one burst at the end.
  int spread = 0;
  for (std::size_t i = 1; i < s.arrivals.size(); ++i) {
    if (s.arrivals[i] - s.arrivals[i - 1] >= 20ms) ++spread;
  }
  CHECK(spread >= static_cast<int>(s.arrivals.size()) / 2);
}

TEST_CASE("malformed_json in a stream breaks the first event's JSON") {
  MockProviderOptions options;
  options.malformed_json = true;
  auto server = start_mock(options);
  const Streamed s = post_streaming(*server, kChat, chat_body(kLongText, true));
  REQUIRE_FALSE(s.events.empty());
  CHECK_FALSE(json::accept(s.events.front().data));
  OpenAiStreamAccumulator acc("mock");
  CHECK(acc.feed(s.events.front().data).error().kind == ErrorKind::bad_response);
}

TEST_CASE("the Anthropic route answers a Messages API message") {
  auto server = start_mock();
  httplib::Client client = client_for(*server);
  auto res = client.Post(kMessages, anthropic_body("reply with exactly: hello claude", false),
                         "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  const json doc = json::parse(res->body);
  CHECK(doc["type"] == "message");
  CHECK(doc["role"] == "assistant");
  CHECK(doc["content"][0]["type"] == "text");
  CHECK(doc["content"][0]["text"] == "hello claude");
  CHECK(doc["stop_reason"] == "end_turn");
  Result<ChatResponse> decoded = decode_anthropic_response(res->status, res->body, "mock");
  REQUIRE(decoded.ok());
  CHECK(decoded.value().usage.output_tokens > 0);
  CHECK(decoded.value().model == "claude-sim");
}

TEST_CASE("the Anthropic stream follows the documented event order") {
  auto server = start_mock();
  const Streamed s = post_streaming(*server, kMessages, anthropic_body(kLongText, true));
  CHECK(s.status == 200);
  CHECK(s.complete);
  std::vector<std::string> types;
  for (const auto& e : s.events) {
    const json data = json::parse(e.data);
    CHECK(e.event == data["type"]);  // the SSE event name repeats the type
    if (types.empty() || types.back() != data["type"]) types.push_back(data["type"]);
  }
  const std::vector<std::string> expected = {
      "message_start",      "ping",          "content_block_start", "content_block_delta",
      "content_block_stop", "message_delta", "message_stop"};
  CHECK(types == expected);
  AnthropicStreamAccumulator acc("mock");
  for (const auto& e : s.events) REQUIRE(acc.feed(e.data).ok());
  StreamOutcome outcome = acc.finish();
  REQUIRE(outcome.ok());
  CHECK(outcome.usage_reported);
  CHECK(outcome.response.content == kLongText.substr(std::string("reply with exactly: ").size()));
  CHECK(outcome.response.usage.output_tokens > 0);
}

TEST_CASE("the Anthropic stream sends a tool call as tool_use with input_json_delta pieces") {
  auto server = start_mock();
  const std::string body =
      R"({"model":"claude-sim","max_tokens":256,"stream":true,)"
      R"("messages":[{"role":"user","content":"call tool lookup with {\"q\":\"a fairly long query string\"}"}],)"
      R"("tools":[{"name":"lookup","input_schema":{"type":"object"}}]})";
  const Streamed s = post_streaming(*server, kMessages, body);
  REQUIRE(s.status == 200);
  std::string arguments;
  bool tool_start = false;
  std::string stop_reason;
  for (const auto& e : s.events) {
    const json data = json::parse(e.data);
    if (data["type"] == "content_block_start" && data["content_block"]["type"] == "tool_use") {
      tool_start = true;
      CHECK(data["content_block"]["name"] == "lookup");
    }
    if (data["type"] == "content_block_delta" && data["delta"]["type"] == "input_json_delta")
      arguments += data["delta"]["partial_json"].get<std::string>();
    if (data["type"] == "message_delta") stop_reason = data["delta"]["stop_reason"];
  }
  CHECK(tool_start);
  CHECK(json::parse(arguments) == json{{"q", "a fairly long query string"}});
  CHECK(stop_reason == "tool_use");
}

TEST_CASE("the Anthropic route fails in Anthropic's error format, Retry-After included") {
  MockProviderOptions options;
  options.fail_first = 1;
  options.fail_status = 429;
  options.retry_after_seconds = 2;
  options.required_key = "sk-ant-test-0123";
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  auto denied = client.Post(kMessages, anthropic_body("hi", false), "application/json");
  REQUIRE(denied);
  CHECK(denied->status == 401);
  CHECK(json::parse(denied->body)["error"]["type"] == "authentication_error");
  CHECK(denied->body.find("sk-ant-test-0123") == std::string::npos);

  httplib::Headers key = {{"x-api-key", "sk-ant-test-0123"}};
  auto limited = client.Post(kMessages, key, anthropic_body("hi", false), "application/json");
  REQUIRE(limited);
  CHECK(limited->status == 429);
  CHECK(limited->get_header_value("Retry-After") == "2");
  CHECK(json::parse(limited->body)["type"] == "error");
  CHECK(json::parse(limited->body)["error"]["type"] == "rate_limit_error");
  Result<ChatResponse> decoded = decode_anthropic_response(limited->status, limited->body, "mock");
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().kind == ErrorKind::rate_limited);

  auto ok = client.Post(kMessages, key, anthropic_body("hi", false), "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);

  auto bad =
      client.Post(kMessages, key, R"({"model":"claude-sim","messages":[]})", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(json::parse(bad->body)["error"]["message"].get<std::string>().find("max_tokens") !=
        std::string::npos);
  CHECK(server->requests_served() == 4);
}
