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

// ---- tools, structured output, cached usage, provider cost ----

namespace {

ChatRequest tool_request() {
  ChatRequest request = hello_request();
  request.tools = {{"get_weather", "Current weather",
                    R"({"type":"object","properties":{"location":{"type":"string"}}})"},
                   {"now", "", ""}};
  Message assistant{"assistant", ""};
  assistant.tool_calls = {{"call_1", "get_weather", R"({"location":"Paris"})"}};
  Message result{"tool", "18C"};
  result.tool_call_id = "call_1";
  request.messages.push_back(assistant);
  request.messages.push_back(result);
  return request;
}

}  // namespace

TEST_CASE("encode_chat_request sends tools, tool calls, tool results and tool_choice") {
  ChatRequest request = tool_request();
  request.tool_choice = "get_weather";
  const json body = json::parse(encode_chat_request(request));
  REQUIRE(body["tools"].size() == 2);
  CHECK(body["tools"][0]["type"] == "function");
  CHECK(body["tools"][0]["function"]["name"] == "get_weather");
  CHECK(body["tools"][0]["function"]["parameters"]["properties"]["location"]["type"] == "string");
  CHECK(body["tools"][1]["function"]["parameters"] ==
        json{{"type", "object"}, {"properties", json::object()}});
  CHECK_FALSE(body["tools"][1]["function"].contains("description"));
  const json& assistant = body["messages"][2];
  CHECK(assistant["content"].is_null());
  CHECK(assistant["tool_calls"][0]["id"] == "call_1");
  CHECK(assistant["tool_calls"][0]["type"] == "function");
  CHECK(assistant["tool_calls"][0]["function"]["arguments"] == R"({"location":"Paris"})");
  CHECK(body["messages"][3] ==
        json{{"role", "tool"}, {"content", "18C"}, {"tool_call_id", "call_1"}});
  CHECK(body["tool_choice"] == json{{"type", "function"}, {"function", {{"name", "get_weather"}}}});
  request.tool_choice = "required";
  CHECK(json::parse(encode_chat_request(request))["tool_choice"] == "required");
}

TEST_CASE("encode_chat_request keeps a schema's key order") {
  ChatRequest request = hello_request();
  request.tools = {{"t", "", R"({"type":"object","properties":{"z":{},"a":{}}})"}};
  CHECK(encode_chat_request(request).find(R"("properties":{"z":{},"a":{}})") != std::string::npos);
}

TEST_CASE("encode_chat_request sends a json_schema response_format") {
  ChatRequest request = hello_request();
  request.response_format = ResponseFormat{"answer", R"({"type":"object"})", true};
  const json body = json::parse(encode_chat_request(request));
  CHECK(body["response_format"]["type"] == "json_schema");
  CHECK(body["response_format"]["json_schema"]["name"] == "answer");
  CHECK(body["response_format"]["json_schema"]["strict"] == true);
  CHECK(body["response_format"]["json_schema"]["schema"] == json{{"type", "object"}});
}

TEST_CASE("decode_chat_response reads several tool calls") {
  auto response =
      decode(200, R"({"model":"gpt-4.1","choices":[{"index":0,"finish_reason":"tool_calls",
    "message":{"role":"assistant","content":null,"tool_calls":[
      {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},
      {"id":"call_2","type":"function","function":{"name":"now","arguments":{"tz":"UTC"}}}]}}]})");
  REQUIRE(response.ok());
  CHECK(response->content.empty());
  CHECK(response->finish_reason == "tool_calls");
  REQUIRE(response->tool_calls.size() == 2);
  CHECK(response->tool_calls[0].id == "call_1");
  CHECK(response->tool_calls[0].name == "get_weather");
  CHECK(response->tool_calls[0].arguments == R"({"location":"Paris"})");
  CHECK(response->tool_calls[1].arguments == R"({"tz":"UTC"})");
}

TEST_CASE("decode_chat_response reads the legacy function_call") {
  auto response = decode(200, R"({"choices":[{"message":{"content":null,
    "function_call":{"name":"f","arguments":"{}"}}}]})");
  REQUIRE(response.ok());
  REQUIRE(response->tool_calls.size() == 1);
  CHECK(response->tool_calls[0].name == "f");
}

TEST_CASE("decode_chat_response refuses an absurd number of tool calls") {
  json calls = json::array();
  for (std::size_t i = 0; i <= kMaxToolCalls; ++i) calls.push_back({{"id", "c"}});
  const json body = {{"choices", {{{"message", {{"content", nullptr}, {"tool_calls", calls}}}}}}};
  auto response = decode(200, body.dump());
  REQUIRE_FALSE(response.ok());
  CHECK(response.error().kind == ErrorKind::bad_response);
}

TEST_CASE("decode_chat_response reads cached tokens and OpenRouter's cost, rounded up") {
  auto response = decode(200, R"({"choices":[{"message":{"content":"x"}}],
    "usage":{"prompt_tokens":194,"completion_tokens":2,"total_tokens":196,"cost":0.95,
      "prompt_tokens_details":{"cached_tokens":90,"cache_write_tokens":100}}})");
  REQUIRE(response.ok());
  CHECK(response->usage.cached_input_tokens == 90);
  CHECK(response->usage.cache_write_input_tokens == 100);
  CHECK(response->provider_cost_nanos == 950'000'000);  // exactly, no phantom nano

  auto clamped = decode(200, R"({"choices":[{"message":{"content":"x"}}],
    "usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":50}}})");
  REQUIRE(clamped.ok());
  CHECK(clamped->usage.cached_input_tokens == 10);
  CHECK_FALSE(clamped->provider_cost_nanos.has_value());
}

TEST_CASE("usd_to_nanos converts decimal costs exactly and rounds up") {
  auto nanos = [](const char* text) { return wire::usd_to_nanos(wire::Json::parse(text)); };
  CHECK(nanos("0") == 0);
  CHECK(nanos("1") == 1'000'000'000);
  CHECK(nanos("0.95") == 950'000'000);
  CHECK(nanos("0.1") == 100'000'000);
  CHECK(nanos("0.00042") == 420'000);
  CHECK(nanos("1.5e-9") == 2);
  CHECK(nanos("1e-15") == 1);
  CHECK(nanos("123.456789012") == 123'456'789'012);
  CHECK(nanos("9000000000") == 9'000'000'000'000'000'000);
  CHECK_FALSE(nanos("-0.5").has_value());
  CHECK_FALSE(nanos("1e300").has_value());
  CHECK_FALSE(nanos("\"0.5\"").has_value());
  CHECK_FALSE(nanos("null").has_value());
}

TEST_CASE("validate_chat_request catches what a plan can get wrong") {
  CHECK(validate_chat_request(tool_request()).ok());
  auto fails = [](ChatRequest request) {
    Status status = validate_chat_request(request);
    return !status.ok() && status.error().kind == ErrorKind::invalid_argument;
  };
  ChatRequest r = tool_request();
  r.tools[0].name = "bad name";
  CHECK(fails(r));
  r = tool_request();
  r.tools[1].name = "get_weather";
  CHECK(fails(r));
  r = tool_request();
  r.tools[0].parameters = "[1]";
  CHECK(fails(r));
  r = tool_request();
  r.tool_choice = "missing_tool";
  CHECK(fails(r));
  r.tool_choice = "none";
  CHECK_FALSE(fails(r));
  r = tool_request();
  r.messages.back().tool_call_id.clear();
  CHECK(fails(r));
  r = tool_request();
  r.response_format = ResponseFormat{"", "{}", true};
  CHECK(fails(r));
  r.response_format = ResponseFormat{"x", "not json", true};
  CHECK(fails(r));
  r.response_format = ResponseFormat{"x", "{}", true};
  CHECK_FALSE(fails(r));
}

TEST_CASE("kept_response_headers keeps balances and the generation id only") {
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"content-type", "application/json"},
      {"x-venice-balance-usd", "12.5"},
      {"x-venice-balance-diem", "3.25"},
      {"set-cookie", "secret"},
      {"x-generation-id", "gen-1"}};
  const auto kept = kept_response_headers(headers);
  REQUIRE(kept.size() == 3);
  CHECK(kept[0].first == "x-venice-balance-usd");
  CHECK(kept[1].second == "3.25");
  CHECK(kept[2].first == "x-generation-id");
}

TEST_CASE("encode_chat_response round-trips tool calls and cached usage") {
  ChatResponse response;
  response.finish_reason = "tool_calls";
  response.tool_calls = {{"call_9", "f", R"({"a":1})"}};
  response.usage = {20, 4, 8, 0};
  auto decoded = decode(200, encode_chat_response(response, "chatcmpl-2", 1));
  REQUIRE(decoded.ok());
  REQUIRE(decoded->tool_calls.size() == 1);
  CHECK(decoded->tool_calls[0].id == "call_9");
  CHECK(decoded->usage.cached_input_tokens == 8);
}

TEST_CASE("decode_chat_request reads tools, tool calls and tool results") {
  auto wire_request = decode_chat_request(encode_chat_request(tool_request()));
  REQUIRE(wire_request.ok());
  const ChatRequest& request = wire_request->request;
  REQUIRE(request.tools.size() == 2);
  CHECK(request.tools[0].name == "get_weather");
  CHECK(json::parse(request.tools[0].parameters)["type"] == "object");
  REQUIRE(request.messages.size() == 4);
  CHECK(request.messages[2].tool_calls.at(0).id == "call_1");
  CHECK(request.messages[3].tool_call_id == "call_1");
}
