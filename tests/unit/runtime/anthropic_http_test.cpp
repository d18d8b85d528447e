// The Anthropic adapter over real HTTP on loopback: the request it sends (x-api-key,
// anthropic-version, /messages), whole and streamed answers replayed from the golden
// sequences in tests/fuzz/corpus/anthropic_decode (Anthropic's streaming docs), 529,
// error events, cut-off streams, the key, and the preset wiring.
#include <doctest/doctest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "loopback_fixture.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/providers/anthropic_codec.hpp"
#include "runtime/providers/anthropic_provider.hpp"
#include "runtime/providers/anthropic_stream.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/provider_config.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace std::chrono_literals;
using perdiem::testing::corpus_file;
using perdiem::testing::LoopbackServer;
using perdiem::testing::serve_chunked;

namespace {

constexpr const char* kKey = "sk-ant-test-0a1b2c3d4e5f60718293a4b5c6d7e8f9";

std::shared_ptr<http::Transport> curl() {
  static std::shared_ptr<http::Transport> transport = http::make_curl_transport();
  return transport;
}

std::unique_ptr<Provider> claude(const std::string& base_url, const std::string& key = kKey) {
  AnthropicProviderConfig config;
  config.name = "anthropic";
  config.base_url = base_url;
  config.api_key = base::SecureBuffer::from_string(key);
  config.key_env = "ANTHROPIC_API_KEY";
  config.default_model = "claude-test";
  config.timeout = 10s;
  return make_anthropic_provider(std::move(config), curl());
}

ChatRequest ask(std::string text) {
  ChatRequest request;
  request.messages = {{"system", "be brief"}, {"user", std::move(text)}};
  return request;
}

struct Recorder {
  std::vector<std::string> pieces;
  ChatCall call;
  Recorder() {
    call.on_text = [this](std::string_view text) { pieces.emplace_back(text); };
  }
  std::string joined() const {
    std::string all;
    for (const auto& piece : pieces) all += piece;
    return all;
  }
};

struct Seen {
  std::string path, api_key, version, authorization, body;
};

// Answers /v1/messages with `sse` streamed (when the request asks) or `whole`.
struct MessagesServer {
  std::mutex mutex;
  std::vector<Seen> seen;
  std::string sse;
  std::string whole;
  LoopbackServer server{[this](httplib::Server& s) {
    s.Post("/v1/messages", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex);
        seen.push_back({req.path, req.get_header_value("x-api-key"),
                        req.get_header_value("anthropic-version"),
                        req.get_header_value("Authorization"), req.body});
      }
      if (nlohmann::json::parse(req.body).value("stream", false)) {
        serve_chunked(res, sse, 61);
      } else {
        res.set_content(whole, "application/json");
      }
    });
  }};
};

}  // namespace

TEST_CASE("anthropic: a streamed answer with text, two tool calls and cache usage") {
  MessagesServer messages;
  messages.sse = corpus_file("anthropic_decode/stream-two-tool-uses.sse");
  Recorder recorder;
  auto reply = claude(messages.server.base_url())->chat_call(ask("weather?"), recorder.call);
  REQUIRE_MESSAGE(reply.ok(), reply.error().message);
  CHECK(recorder.pieces ==
        std::vector<std::string>{"Okay, let's check the weather for San Francisco, CA:"});
  CHECK(reply->content == recorder.joined());
  CHECK(reply->model == "claude-opus-4-20250514");
  CHECK(reply->provider == "anthropic");
  CHECK(reply->finish_reason == "tool_calls");
  REQUIRE(reply->tool_calls.size() == 2);
  CHECK(reply->tool_calls[0].id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
  CHECK(nlohmann::json::parse(reply->tool_calls[0].arguments) ==
        nlohmann::json{{"location", "San Francisco, CA"}, {"unit", "fahrenheit"}});
  CHECK(reply->tool_calls[1].name == "get_time");
  CHECK(nlohmann::json::parse(reply->tool_calls[1].arguments) == nlohmann::json::object());
  // input_tokens counts every prompt token: 472 fresh + 100 written + 2000 read.
  CHECK(reply->usage.input_tokens == 472 + 100 + 2000);
  CHECK(reply->usage.cached_input_tokens == 2000);
  CHECK(reply->usage.cache_write_input_tokens == 100);
  CHECK(reply->usage.output_tokens == 89);
  CHECK(recorder.call.http_status == 200);
  CHECK(recorder.call.ttft_us.has_value());

  std::lock_guard lock(messages.mutex);
  REQUIRE(messages.seen.size() == 1);
  const Seen& seen = messages.seen[0];
  CHECK(seen.path == "/v1/messages");
  CHECK(seen.api_key == kKey);
  CHECK(seen.version == std::string(kAnthropicVersion));
  CHECK(seen.authorization.empty());
  const auto body = nlohmann::json::parse(seen.body);
  CHECK(body["stream"] == true);
  CHECK(body["model"] == "claude-test");
  CHECK(body["system"] == "be brief");
  CHECK(body["max_tokens"].is_number_integer());
}

TEST_CASE("anthropic: streamed and whole answers agree") {
  ChatResponse expected;
  expected.content = "Both paths, one answer.";
  expected.model = "claude-test-1";
  expected.finish_reason = "tool_calls";
  expected.usage = {500, 42, 300, 50};
  expected.tool_calls = {{"toolu_a", "lookup", R"({"q":"perdiem"})"}};
  MessagesServer messages;
  for (const auto& event : encode_anthropic_stream(expected, "msg_1", 4)) messages.sse += event;
  messages.whole = encode_anthropic_response(expected, "msg_1");
  auto provider = claude(messages.server.base_url());
  Recorder recorder;
  auto streamed = provider->chat_call(ask("x"), recorder.call);
  auto whole = provider->chat(ask("x"));
  REQUIRE_MESSAGE(streamed.ok(), streamed.error().message);
  REQUIRE_MESSAGE(whole.ok(), whole.error().message);
  CHECK(recorder.pieces.size() > 1);
  for (const ChatResponse* reply : {&*streamed, &*whole}) {
    CHECK(reply->content == expected.content);
    CHECK(reply->model == expected.model);
    CHECK(reply->finish_reason == expected.finish_reason);
    CHECK(reply->usage.input_tokens == expected.usage.input_tokens);
    CHECK(reply->usage.output_tokens == expected.usage.output_tokens);
    CHECK(reply->usage.cached_input_tokens == expected.usage.cached_input_tokens);
    CHECK(reply->usage.cache_write_input_tokens == expected.usage.cache_write_input_tokens);
    REQUIRE(reply->tool_calls.size() == 1);
    CHECK(reply->tool_calls[0].arguments == expected.tool_calls[0].arguments);
  }
  std::lock_guard lock(messages.mutex);
  REQUIRE(messages.seen.size() == 2);
  CHECK_FALSE(nlohmann::json::parse(messages.seen[1].body).contains("stream"));
  CHECK(messages.seen[1].api_key == kKey);
  CHECK(messages.seen[1].version == std::string(kAnthropicVersion));
  CHECK(messages.seen[1].authorization.empty());
}

TEST_CASE("anthropic: 529 overloaded and 429 are retryable, 401 names the key variable") {
  struct Case {
    int status;
    const char* type;
    ErrorKind kind;
    bool retryable;
  };
  for (const Case& c : {Case{529, "overloaded_error", ErrorKind::provider, true},
                        Case{429, "rate_limit_error", ErrorKind::rate_limited, true},
                        Case{401, "authentication_error", ErrorKind::auth, false},
                        Case{400, "invalid_request_error", ErrorKind::provider, false}}) {
    for (bool streamed : {false, true}) {
      CAPTURE(c.status);
      CAPTURE(streamed);
      LoopbackServer server([&](httplib::Server& s) {
        s.Post("/v1/messages", [&](const httplib::Request&, httplib::Response& res) {
          res.status = c.status;
          res.set_header("retry-after", "11");
          res.set_content(encode_anthropic_error_body(c.type, "the service says no"),
                          "application/json");
        });
      });
      Recorder recorder;
      ChatCall plain;
      ChatCall& call = streamed ? recorder.call : plain;
      auto reply = claude(server.base_url())->chat_call(ask("hi"), call);
      REQUIRE_FALSE(reply.ok());
      CHECK(reply.error().kind == c.kind);
      CHECK(reply.error().retryable == c.retryable);
      CHECK(reply.error().source == "anthropic");
      CHECK(reply.error().message.find("the service says no") != std::string::npos);
      CHECK(call.http_status == c.status);
      CHECK(call.retry_after == 11s);
      if (c.kind == ErrorKind::auth) {
        CHECK(reply.error().message.find("ANTHROPIC_API_KEY") != std::string::npos);
      }
    }
  }
}

TEST_CASE("anthropic: an overloaded_error event mid-stream keeps the partial text") {
  MessagesServer messages;
  messages.sse = corpus_file("anthropic_decode/stream-error-overloaded.sse");
  Recorder recorder;
  auto reply = claude(messages.server.base_url())->chat_call(ask("hi"), recorder.call);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().message.find("Overloaded") != std::string::npos);
  CHECK_FALSE(reply.error().retryable);
  CHECK(recorder.call.partial_output);
  CHECK(recorder.call.partial_text == "Hello!");
  // message_start reported the prompt: the partial usage carries it.
  REQUIRE(recorder.call.partial_usage.has_value());
  CHECK(recorder.call.partial_usage->input_tokens == 25);
  CHECK(recorder.call.partial_usage->output_tokens >= 1);
}

TEST_CASE("anthropic: a stream cut at every byte never succeeds and reports partial output") {
  const std::string golden = corpus_file("anthropic_decode/stream-text.sse");
  std::size_t cut = 0;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/messages", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, golden, 53, cut);
    });
  });
  auto provider = claude(server.base_url());
  int partial = 0;
  for (cut = 0; cut <= golden.size(); ++cut) {
    CAPTURE(cut);
    Recorder recorder;
    auto reply = provider->chat_call(ask("hi"), recorder.call);
    if (cut == golden.size()) {
      REQUIRE_MESSAGE(reply.ok(), reply.error().message);
      CHECK(reply->content == "Hello!");
      CHECK(reply->usage.output_tokens == 15);
      continue;
    }
    REQUIRE_FALSE(reply.ok());
    const bool delivered = !recorder.pieces.empty();
    CHECK(recorder.call.partial_output == delivered);
    CHECK(recorder.call.partial_text == recorder.joined());
    CHECK(reply.error().retryable == !delivered);
    if (delivered) {
      ++partial;
      REQUIRE(recorder.call.partial_usage.has_value());
      CHECK(recorder.call.partial_usage->input_tokens == 25);
    }
  }
  CHECK(partial > 0);
}

TEST_CASE("anthropic: the key never appears in errors or text, even when echoed") {
  const std::string key = kKey;
  for (int status : {200, 401, 500, 529}) {
    CAPTURE(status);
    LoopbackServer echo([&](httplib::Server& s) {
      s.Post("/v1/messages", [&](const httplib::Request& req, httplib::Response& res) {
        const std::string echoed =
            std::string(185, '.') + "you sent " + req.get_header_value("x-api-key");
        if (status != 200) {
          res.status = status;
          res.set_content(encode_anthropic_error_body("api_error", echoed), "application/json");
          return;
        }
        const nlohmann::json text = echoed;
        const std::string sse =
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\","
            "\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
            "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
            "\"delta\":{\"type\":\"text_delta\",\"text\":" +
            text.dump() +
            "}}\n\n"
            "event: error\ndata: " +
            encode_anthropic_error_body("api_error", echoed) + "\n\n";
        serve_chunked(res, sse, 13);
      });
    });
    for (bool streamed : {false, true}) {
      CAPTURE(streamed);
      Recorder recorder;
      ChatCall plain;
      ChatCall& call = streamed ? recorder.call : plain;
      auto reply = claude(echo.base_url())->chat_call(ask("hi"), call);
      REQUIRE_FALSE(reply.ok());
      for (const std::string& text :
           {reply.error().message, reply.error().source, call.partial_text, recorder.joined()}) {
        CHECK(text.find(key) == std::string::npos);
        CHECK(text.find(key.substr(0, 14)) == std::string::npos);
      }
    }
  }
}

TEST_CASE("the anthropic preset builds the Anthropic adapter through make_provider") {
  MessagesServer messages;
  messages.sse = corpus_file("anthropic_decode/stream-text.sse");
  ProviderSettings settings;
  settings.provider = "anthropic";
  settings.base_url = messages.server.base_url();
  const std::string key = kKey;
  auto choice =
      resolve_provider(settings, [&](const std::string& name) -> std::optional<std::string> {
        if (name == "ANTHROPIC_API_KEY") return key;
        return std::nullopt;
      });
  REQUIRE_MESSAGE(choice.ok(), choice.error().message);
  CHECK(choice->model == std::string(find_preset("anthropic")->default_model));
  CHECK(choice->key_env == "ANTHROPIC_API_KEY");
  auto provider = make_provider(std::move(choice).value(), curl());
  CHECK(provider->name() == "anthropic");
  Recorder recorder;
  auto reply = provider->chat_call(ask("hi"), recorder.call);
  REQUIRE_MESSAGE(reply.ok(), reply.error().message);
  CHECK(reply->content == "Hello!");
  std::lock_guard lock(messages.mutex);
  REQUIRE(messages.seen.size() == 1);
  CHECK(messages.seen[0].api_key == kKey);
  CHECK(nlohmann::json::parse(messages.seen[0].body)["model"] ==
        std::string(find_preset("anthropic")->default_model));

  ProviderSettings no_key;
  no_key.provider = "anthropic";
  auto refused = resolve_provider(no_key, [](const std::string&) { return std::nullopt; });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("ANTHROPIC_API_KEY") != std::string::npos);
}
