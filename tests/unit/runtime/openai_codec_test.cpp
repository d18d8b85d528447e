#include "runtime/providers/openai_codec.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

using namespace perdiem;
using namespace perdiem::providers;
using nlohmann::json;

namespace {

ChatRequest hello_request() {
  ChatRequest request;
  request.model = "m-1";
  request.messages = {{"system", "be brief"}, {"user", "hello"}};
  return request;
}

Result<ChatResponse> decode(long status, const std::string& body) {
  return decode_chat_response(status, body, "testprov");
}

std::string error_body(const std::string& message) {
  return json{{"error", {{"message", message}, {"type", "x"}, {"code", nullptr}}}}.dump();
}

}  // namespace

TEST_CASE("encode_chat_request sends model, messages and stream false, nothing unset") {
  const json body = json::parse(encode_chat_request(hello_request()));
  CHECK(body["model"] == "m-1");
  REQUIRE(body["messages"].size() == 2);
  CHECK(body["messages"][0]["role"] == "system");
  CHECK(body["messages"][1]["content"] == "hello");
  CHECK(body["stream"] == false);
  CHECK_FALSE(body.contains("max_tokens"));
  CHECK_FALSE(body.contains("temperature"));
}

TEST_CASE("encode_chat_request includes max_tokens and temperature when set") {
  ChatRequest request = hello_request();
  request.max_tokens = 50;
  request.temperature = 0.25;
  const json body = json::parse(encode_chat_request(request));
  CHECK(body["max_tokens"] == 50);
  CHECK(body["temperature"] == doctest::Approx(0.25));
}

TEST_CASE("encode_chat_request survives invalid UTF-8 instead of throwing") {
  ChatRequest request = hello_request();
  request.messages[1].content = std::string("bad \xff\xfe bytes");
  std::string encoded;
  CHECK_NOTHROW(encoded = encode_chat_request(request));
  CHECK(json::accept(encoded));
}

TEST_CASE("decode_chat_response reads content, finish reason, model and usage") {
  const std::string body = R"({"id":"x","object":"chat.completion","model":"llama-3",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hi there"},
                "finish_reason":"stop"}],
    "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}})";
  auto response = decode(200, body);
  REQUIRE(response.ok());
  CHECK(response->content == "Hi there");
  CHECK(response->finish_reason == "stop");
  CHECK(response->model == "llama-3");
  CHECK(response->provider == "testprov");
  CHECK(response->usage.input_tokens == 12);
  CHECK(response->usage.output_tokens == 3);
}

TEST_CASE("decode_chat_response maps null content to empty text") {
  auto response = decode(200, R"({"choices":[{"message":{"role":"assistant","content":null},
    "finish_reason":"tool_calls"}]})");
  REQUIRE(response.ok());
  CHECK(response->content.empty());
  CHECK(response->finish_reason == "tool_calls");
}

TEST_CASE("decode_chat_response joins text parts of array content") {
  auto response = decode(200, R"({"choices":[{"message":{"content":[
    {"type":"text","text":"a"},{"type":"image_url"},{"type":"text","text":"b"}]}}]})");
  REQUIRE(response.ok());
  CHECK(response->content == "ab");
}

TEST_CASE("decode_chat_response without usage reports zero tokens") {
  auto response = decode(200, R"({"choices":[{"message":{"content":"x"}}]})");
  REQUIRE(response.ok());
  CHECK(response->usage.input_tokens == 0);
  CHECK(response->usage.output_tokens == 0);
  CHECK(response->model.empty());
}

TEST_CASE("decode_chat_response refuses negative or non-integer token counts") {
  for (const char* usage :
       {R"({"prompt_tokens":-1,"completion_tokens":1})",
        R"({"prompt_tokens":1.5,"completion_tokens":1})",
        R"({"prompt_tokens":"7","completion_tokens":1})",
        R"({"prompt_tokens":1,"completion_tokens":18446744073709551615})", R"([1,2])"}) {
    CAPTURE(usage);
    auto response = decode(
        200, std::string(R"({"choices":[{"message":{"content":"x"}}],"usage":)") + usage + "}");
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::bad_response);
  }
}

TEST_CASE("decode_chat_response maps malformed JSON to bad_response without echoing it") {
  const std::string body = "{\"choices\": [ this is not json SECRET-LOOKING-TEXT";
  auto response = decode(200, body);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::bad_response);
  CHECK(response.error().source == "testprov");
  CHECK(response.error().message.find("SECRET-LOOKING-TEXT") == std::string::npos);
  CHECK_FALSE(response.error().retryable);
}

TEST_CASE("decode_chat_response maps missing or empty choices to bad_response") {
  for (const char* body : {R"({"id":"x"})", R"({"choices":[]})", R"({"choices":{}})", R"([1,2,3])",
                           R"({"choices":[{"text":"legacy"}]})",
                           R"({"choices":[{"message":{"content":42}}]})", "", "null"}) {
    CAPTURE(body);
    auto response = decode(200, body);
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == ErrorKind::bad_response);
  }
}

TEST_CASE("decode_chat_response refuses absurdly deep JSON without parsing it") {
  const std::string body = std::string(100000, '[') + std::string(100000, ']');
  auto response = decode(200, body);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::bad_response);
}

TEST_CASE("decode_chat_response maps each HTTP error class to a kind") {
  struct Case {
    long status;
    ErrorKind kind;
    bool retryable;
  };
  const Case cases[] = {
      {401, ErrorKind::auth, false},        {403, ErrorKind::auth, false},
      {429, ErrorKind::rate_limited, true}, {408, ErrorKind::provider, true},
      {500, ErrorKind::provider, true},     {502, ErrorKind::provider, true},
      {503, ErrorKind::provider, true},     {599, ErrorKind::provider, true},
      {400, ErrorKind::provider, false},    {404, ErrorKind::provider, false},
      {422, ErrorKind::provider, false},    {418, ErrorKind::provider, false},
      {302, ErrorKind::provider, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.status);
    auto response = decode(c.status, error_body("the provider says no"));
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().kind == c.kind);
    CHECK(response.error().retryable == c.retryable);
    CHECK(response.error().source == "testprov");
    CHECK(response.error().message.find("the provider says no") != std::string::npos);
    CHECK(response.error().message.find(std::to_string(c.status)) != std::string::npos);
  }
}

TEST_CASE("decode_chat_response reads the other error body shapes servers use") {
  CHECK(decode(404, R"({"error":"model 'x' not found"})")
            .error()
            .message.find("model 'x' not found") != std::string::npos);
  CHECK(decode(400, R"({"message":"plain message"})").error().message.find("plain message") !=
        std::string::npos);
  CHECK(decode(422, R"({"detail":"fastapi detail"})").error().message.find("fastapi detail") !=
        std::string::npos);
}

TEST_CASE("decode_chat_response quotes at most ~200 characters of an error message") {
  const std::string huge(20000, 'x');
  auto response = decode(500, error_body(huge + "TAIL"));
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().message.size() < kMaxQuotedErrorChars + 100);
  CHECK(response.error().message.find("TAIL") == std::string::npos);
}

TEST_CASE("decode_chat_response does not quote a non-JSON error body") {
  const std::string html = "<html><body>" + std::string(5000, 'y') + "</body></html>";
  auto response = decode(502, html);
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::provider);
  CHECK(response.error().message.find("<html>") == std::string::npos);
  CHECK(response.error().message.size() < 100);
}

TEST_CASE("decode_chat_response keeps an error message on one line") {
  auto response = decode(400, error_body("line one\nline two\r\tend"));
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().message.find('\n') == std::string::npos);
  CHECK(response.error().message.find("line one line two") != std::string::npos);
}

TEST_CASE("decode_chat_response maps an error delivered with HTTP 200 by its code") {
  auto limited = decode(200, R"({"error":{"message":"slow down","code":429}})");
  REQUIRE_FALSE(limited.ok());
  CHECK(limited.error().kind == ErrorKind::rate_limited);
  CHECK(limited.error().retryable);

  auto upstream = decode(200, R"({"error":{"message":"upstream died","code":"oops"}})");
  REQUIRE_FALSE(upstream.ok());
  CHECK(upstream.error().kind == ErrorKind::provider);
  CHECK(upstream.error().message.find("upstream died") != std::string::npos);
}

TEST_CASE("decode_chat_request reads what OpenAI clients send") {
  auto wire = decode_chat_request(R"({"model":"sim-1","stream":false,"temperature":0.5,
    "max_completion_tokens":9,
    "messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"}]}]})");
  REQUIRE(wire.ok());
  CHECK(wire->request.model == "sim-1");
  CHECK_FALSE(wire->stream);
  CHECK(wire->request.max_tokens == 9);
  CHECK(wire->request.temperature == doctest::Approx(0.5));
  REQUIRE(wire->request.messages.size() == 2);
  CHECK(wire->request.messages[1].content == "hi");
}

TEST_CASE("decode_chat_request reports bad input as invalid_argument") {
  for (const char* body :
       {"not json", "[]", R"({"model":"m"})", R"({"messages":[{"role":1}]})",
        R"({"messages":[],"max_tokens":-3})", R"({"messages":[],"stream":"yes"})"}) {
    CAPTURE(body);
    auto wire = decode_chat_request(body);
    REQUIRE_FALSE(wire.ok());
    CHECK(wire.error().kind == ErrorKind::invalid_argument);
  }
  auto streaming = decode_chat_request(R"({"messages":[],"stream":true})");
  REQUIRE(streaming.ok());
  CHECK(streaming->stream);
}

TEST_CASE("encode_chat_response round-trips through decode_chat_response") {
  ChatResponse response;
  response.content = "answer";
  response.model = "sim-1";
  response.finish_reason = "length";
  response.usage = {7, 2};
  const std::string body = encode_chat_response(response, "chatcmpl-1", 1700000000);
  const json doc = json::parse(body);
  CHECK(doc["object"] == "chat.completion");
  CHECK(doc["usage"]["total_tokens"] == 9);
  auto decoded = decode(200, body);
  REQUIRE(decoded.ok());
  CHECK(decoded->content == "answer");
  CHECK(decoded->finish_reason == "length");
  CHECK(decoded->usage.input_tokens == 7);
  CHECK(decoded->usage.output_tokens == 2);
}

TEST_CASE("encode_error_body is an OpenAI error object") {
  const json doc = json::parse(encode_error_body("nope", "invalid_request_error"));
  CHECK(doc["error"]["message"] == "nope");
  CHECK(doc["error"]["type"] == "invalid_request_error");
  CHECK(doc["error"]["code"].is_null());
  CHECK(json::parse(encode_error_body("a", "b", "c"))["error"]["code"] == "c");
}
