// The OpenAI-compatible adapter's chat_call over real HTTP on loopback: streamed answers
// replayed from the golden sequences in tests/fuzz/corpus/openai_decode (OpenAI's and
// OpenRouter's docs), retry details, cut-off streams, timeouts and the key.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "loopback_fixture.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/openai_provider.hpp"
#include "runtime/providers/openai_stream.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace std::chrono_literals;
using perdiem::testing::corpus_file;
using perdiem::testing::Gate;
using perdiem::testing::LoopbackServer;
using perdiem::testing::serve_chunked;

namespace {

constexpr const char* kKey = "sk-test-5e1d2c3b4a596877a6b5c4d3e2f10987";

struct Settings {
  std::string key;
  std::chrono::milliseconds first_byte = 10s;
  std::chrono::milliseconds idle = 10s;
  std::size_t max_bytes = 16u << 20;
};

std::unique_ptr<Provider> provider_for(const std::string& base_url, Settings settings = {}) {
  static std::shared_ptr<http::Transport> transport = http::make_curl_transport();
  OpenAiProviderConfig config;
  config.name = "loopback";
  config.base_url = base_url;
  config.api_key = base::SecureBuffer::from_string(settings.key);
  config.key_env = "LOOPBACK_API_KEY";
  config.default_model = "gpt-4o-mini";
  config.timeout = 10s;
  config.stream_first_byte_timeout = settings.first_byte;
  config.stream_idle_timeout = settings.idle;
  config.max_response_bytes = settings.max_bytes;
  return make_openai_provider(std::move(config), transport);
}

ChatRequest ask(std::string text) {
  ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {{"user", std::move(text)}};
  return request;
}

// A ChatCall that records every text piece it is given.
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

// Serves `body` as an event stream at /v1/chat/completions, in `piece`-byte chunks,
// remembering each request's body.
struct StreamServer {
  std::mutex mutex;
  std::vector<std::string> request_bodies;
  std::string body;
  std::size_t piece = 64;
  std::vector<std::pair<std::string, std::string>> headers;
  LoopbackServer server{[this](httplib::Server& s) {
    s.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mutex);
        request_bodies.push_back(req.body);
      }
      for (const auto& [name, value] : headers) res.set_header(name, value);
      serve_chunked(res, body, piece);
    });
  }};
  explicit StreamServer(std::string sse, std::size_t chunk = 64)
      : body(std::move(sse)), piece(chunk) {}
};

std::string imf_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  REQUIRE(std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
  return text;
}

}  // namespace

TEST_CASE("streamed text arrives in order, concatenates to the content, with usage") {
  for (std::size_t chunk : {1u, 7u, 4096u}) {
    CAPTURE(chunk);
    StreamServer stream(corpus_file("openai_decode/stream-text-with-usage.sse"), chunk);
    Recorder recorder;
    auto reply = provider_for(stream.server.base_url())->chat_call(ask("hi"), recorder.call);
    REQUIRE_MESSAGE(reply.ok(), reply.error().message);
    CHECK(recorder.pieces == std::vector<std::string>{"Hello", "!"});
    CHECK(reply->content == recorder.joined());
    CHECK(reply->finish_reason == "stop");
    CHECK(reply->model == "gpt-4o-mini");
    CHECK(reply->provider == "loopback");
    CHECK(reply->usage.input_tokens == 9);
    CHECK(reply->usage.output_tokens == 2);
    CHECK(reply->usage.cached_input_tokens == 4);
    CHECK(recorder.call.http_status == 200);
    CHECK_FALSE(recorder.call.partial_output);
    REQUIRE(recorder.call.ttft_us.has_value());
    CHECK(*recorder.call.ttft_us > 0);

    std::lock_guard lock(stream.mutex);
    REQUIRE(stream.request_bodies.size() == 1);
    const auto sent = nlohmann::json::parse(stream.request_bodies[0]);
    CHECK(sent["stream"] == true);
    CHECK(sent["stream_options"]["include_usage"] == true);
  }
}

TEST_CASE("two streamed tool calls are assembled, with OpenRouter's cost and headers") {
  StreamServer stream(corpus_file("openai_decode/stream-two-tool-calls.sse"), 50);
  stream.headers = {{"x-generation-id", "gen-42"}, {"x-unrelated", "dropped"}};
  Recorder recorder;
  auto reply = provider_for(stream.server.base_url())->chat_call(ask("weather"), recorder.call);
  REQUIRE_MESSAGE(reply.ok(), reply.error().message);
  CHECK(recorder.pieces.empty());
  REQUIRE(reply->tool_calls.size() == 2);
  CHECK(reply->tool_calls[0].id == "call_DdmO9pD3xa9XTPNJ32zg2hcA");
  CHECK(reply->tool_calls[0].name == "get_weather");
  CHECK(nlohmann::json::parse(reply->tool_calls[0].arguments)["location"] == "Paris, France");
  CHECK(reply->tool_calls[1].id == "call_abc");
  CHECK(nlohmann::json::parse(reply->tool_calls[1].arguments)["location"] == "Bogotá, Colombia");
  CHECK(reply->finish_reason == "tool_calls");
  CHECK(reply->usage.input_tokens == 80);
  CHECK(reply->usage.output_tokens == 40);
  CHECK(reply->provider_cost_nanos == 420'000);  // usage.cost 0.00042 USD
  REQUIRE(reply->provider_headers.size() == 1);
  CHECK(reply->provider_headers[0].first == "x-generation-id");
  CHECK(reply->provider_headers[0].second == "gen-42");
}

TEST_CASE("a streamed answer equals the same answer sent whole") {
  ChatResponse expected;
  expected.content = "Streaming and whole answers agree, ünïcödé included.";
  expected.model = "gpt-4o-mini";
  expected.finish_reason = "tool_calls";
  expected.usage = {120, 33, 20, 0};
  expected.tool_calls = {{"call_1", "lookup", R"({"q":"perdiem"})"},
                         {"call_2", "add", R"({"a":1,"b":2})"}};
  std::string sse;
  for (const auto& event : encode_chat_stream(expected, "chatcmpl-1", 1, 5)) sse += event;
  const std::string whole = encode_chat_response(expected, "chatcmpl-1", 1);
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
      res.set_header("x-generation-id", "gen-7");
      if (nlohmann::json::parse(req.body).value("stream", false)) {
        serve_chunked(res, sse, 33);
      } else {
        res.set_content(whole, "application/json");
      }
    });
  });
  auto provider = provider_for(server.base_url());
  Recorder recorder;
  auto streamed = provider->chat_call(ask("x"), recorder.call);
  ChatCall plain;
  auto sent_whole = provider->chat_call(ask("x"), plain);
  REQUIRE(streamed.ok());
  REQUIRE(sent_whole.ok());
  CHECK(recorder.pieces.size() > 1);
  CHECK(plain.http_status == 200);
  CHECK_FALSE(plain.ttft_us.has_value());
  for (const ChatResponse* reply : {&*streamed, &*sent_whole}) {
    CHECK(reply->content == expected.content);
    CHECK(reply->finish_reason == expected.finish_reason);
    CHECK(reply->usage.input_tokens == expected.usage.input_tokens);
    CHECK(reply->usage.output_tokens == expected.usage.output_tokens);
    CHECK(reply->usage.cached_input_tokens == expected.usage.cached_input_tokens);
    REQUIRE(reply->tool_calls.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(reply->tool_calls[i].id == expected.tool_calls[i].id);
      CHECK(reply->tool_calls[i].name == expected.tool_calls[i].name);
      CHECK(reply->tool_calls[i].arguments == expected.tool_calls[i].arguments);
    }
    REQUIRE(reply->provider_headers.size() == 1);
    CHECK(reply->provider_headers[0].second == "gen-7");
  }
}

TEST_CASE("429 and 503 keep their kinds and report Retry-After, streamed or not") {
  struct Case {
    int status;
    std::string header;
    std::string value;
    ErrorKind kind;
  };
  const auto now = std::chrono::system_clock::now();
  const std::vector<Case> cases = {
      {429, "Retry-After", "7", ErrorKind::rate_limited},
      {429, "Retry-After", imf_date(now + 90s), ErrorKind::rate_limited},
      {429, "retry-after-ms", "2500", ErrorKind::rate_limited},
      {503, "Retry-After", "3", ErrorKind::provider},
      {503, "", "", ErrorKind::provider},
  };
  for (const Case& c : cases) {
    for (bool streamed : {false, true}) {
      CAPTURE(c.status);
      CAPTURE(c.value);
      CAPTURE(streamed);
      LoopbackServer server([&](httplib::Server& s) {
        s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
          res.status = c.status;
          if (!c.header.empty()) res.set_header(c.header, c.value);
          res.set_content(R"({"error":{"message":"slow down please"}})", "application/json");
        });
      });
      Recorder recorder;
      ChatCall plain;
      ChatCall& call = streamed ? recorder.call : plain;
      auto reply = provider_for(server.base_url())->chat_call(ask("hi"), call);
      REQUIRE_FALSE(reply.ok());
      CHECK(reply.error().kind == c.kind);
      CHECK(reply.error().retryable);
      CHECK(reply.error().message.find("slow down please") != std::string::npos);
      CHECK(call.http_status == c.status);
      CHECK_FALSE(call.partial_output);
      if (c.header.empty()) {
        CHECK_FALSE(call.retry_after.has_value());
      } else if (c.header == "retry-after-ms") {
        CHECK(call.retry_after == 2500ms);
      } else if (c.value.size() > 2) {
        REQUIRE(call.retry_after.has_value());
        CHECK(*call.retry_after > 80s);
        CHECK(*call.retry_after <= 90s);
      } else {
        CHECK(call.retry_after == std::chrono::seconds(std::stoi(c.value)));
      }
    }
  }
}

TEST_CASE("streamed 401 and 400 stay auth and final") {
  for (int status : {401, 400, 404}) {
    CAPTURE(status);
    LoopbackServer server([&](httplib::Server& s) {
      s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
        res.status = status;
        res.set_content(R"({"error":{"message":"nope"}})", "application/json");
      });
    });
    Recorder recorder;
    auto reply = provider_for(server.base_url())->chat_call(ask("hi"), recorder.call);
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.error().kind == (status == 401 ? ErrorKind::auth : ErrorKind::provider));
    CHECK_FALSE(reply.error().retryable);
    if (status == 401) {
      CHECK(reply.error().message.find("LOOPBACK_API_KEY") != std::string::npos);
    }
  }
}

TEST_CASE("a 200 that is not an event stream fails a streamed call as bad_response") {
  const std::string whole = R"({"choices":[{"message":{"content":"hi"}}]})";
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      res.set_content(whole, "application/json");
    });
  });
  Recorder recorder;
  auto reply = provider_for(server.base_url())->chat_call(ask("hi"), recorder.call);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::bad_response);
  CHECK(reply.error().message.find("application/json") != std::string::npos);
  CHECK(recorder.pieces.empty());
  CHECK(recorder.call.http_status == 200);
}

// The heart of partial-output accounting: whatever byte the stream dies at, the call
// fails, and it says output had started exactly when some text had been delivered.
TEST_CASE("a stream cut at every byte offset never succeeds and reports partial output") {
  const std::string golden = corpus_file("openai_decode/stream-text-with-usage.sse");
  std::size_t cut = 0;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, golden, 97, cut);
    });
  });
  auto provider = provider_for(server.base_url());
  int partial = 0;
  for (cut = 0; cut <= golden.size(); ++cut) {
    CAPTURE(cut);
    Recorder recorder;
    auto reply = provider->chat_call(ask("hi"), recorder.call);
    if (cut == golden.size()) {
      REQUIRE_MESSAGE(reply.ok(), reply.error().message);
      CHECK(reply->content == "Hello!");
      continue;
    }
    REQUIRE_FALSE(reply.ok());
    const bool delivered = !recorder.pieces.empty();
    CHECK(recorder.call.partial_output == delivered);
    CHECK(recorder.call.partial_text == recorder.joined());
    CHECK(reply.error().retryable == !delivered);
    CHECK(reply.error().source == "loopback");
    if (delivered) ++partial;
    // Usage arrives in the last chunk before [DONE]: only then is there a reported count.
    if (recorder.call.partial_usage) CHECK(recorder.call.partial_usage->input_tokens == 9);
  }
  CHECK(partial > 0);
}

TEST_CASE("a streamed tool call cut at every offset never succeeds") {
  const std::string golden = corpus_file("openai_decode/stream-two-tool-calls.sse");
  std::size_t cut = 0;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, golden, 211, cut);
    });
  });
  auto provider = provider_for(server.base_url());
  bool saw_partial = false;
  bool saw_clean = false;
  for (cut = 0; cut < golden.size(); cut += 3) {
    CAPTURE(cut);
    Recorder recorder;
    auto reply = provider->chat_call(ask("hi"), recorder.call);
    REQUIRE_FALSE(reply.ok());
    CHECK(recorder.pieces.empty());
    CHECK(reply.error().retryable == !recorder.call.partial_output);
    (recorder.call.partial_output ? saw_partial : saw_clean) = true;
  }
  CHECK(saw_partial);
  CHECK(saw_clean);
}

TEST_CASE("a stream that never starts hits the first-byte timeout") {
  Gate gate;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, corpus_file("openai_decode/stream-text-with-usage.sse"), 64,
                    testing::kWholeBody, "text/event-stream", [&](std::size_t offset) {
                      if (offset == 0) gate.wait();
                    });
    });
  });
  Settings settings;
  settings.first_byte = 300ms;
  Recorder recorder;
  const auto started = std::chrono::steady_clock::now();
  auto reply = provider_for(server.base_url(), settings)->chat_call(ask("hi"), recorder.call);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  gate.release();
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::timeout);
  CHECK(reply.error().retryable);
  CHECK(reply.error().source == "loopback");
  CHECK_FALSE(recorder.call.partial_output);
  CHECK(elapsed < 3s);
}

TEST_CASE("a stream that stalls after its first text hits the idle timeout") {
  const std::string golden = corpus_file("openai_decode/stream-text-with-usage.sse");
  const std::size_t stall_at = golden.find("\n\n", golden.find("Hello")) + 2;
  Gate gate;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, golden, stall_at, testing::kWholeBody, "text/event-stream",
                    [&](std::size_t offset) {
                      if (offset == stall_at) gate.wait();
                    });
    });
  });
  Settings settings;
  settings.idle = 300ms;
  Recorder recorder;
  auto reply = provider_for(server.base_url(), settings)->chat_call(ask("hi"), recorder.call);
  gate.release();
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::timeout);
  CHECK_FALSE(reply.error().retryable);  // "Hello" had arrived: the provider bills it
  CHECK(recorder.call.partial_output);
  CHECK(recorder.call.partial_text == "Hello");
  CHECK(recorder.pieces == std::vector<std::string>{"Hello"});
}

TEST_CASE("an oversized stream fails as bad_response after delivering what fit") {
  ChatResponse big;
  big.content = std::string(64 * 1024, 'x');
  big.model = "gpt-4o-mini";
  big.finish_reason = "stop";
  std::string sse;
  for (const auto& event : encode_chat_stream(big, "c", 1, 512)) sse += event;
  StreamServer stream(sse, 4096);
  Settings settings;
  settings.max_bytes = 8192;
  Recorder recorder;
  auto reply =
      provider_for(stream.server.base_url(), settings)->chat_call(ask("hi"), recorder.call);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::bad_response);
  CHECK(reply.error().message.find("8192") != std::string::npos);
  CHECK(recorder.call.partial_output);
  CHECK(recorder.joined().size() < 8192);
  CHECK(recorder.call.partial_text == recorder.joined());
}

TEST_CASE("a mid-stream error event fails the call, not retryable after output") {
  StreamServer stream(corpus_file("openai_decode/stream-error-mid-stream.sse"), 40);
  Recorder recorder;
  auto reply = provider_for(stream.server.base_url())->chat_call(ask("hi"), recorder.call);
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().message.find("Provider disconnected unexpectedly") != std::string::npos);
  CHECK_FALSE(reply.error().retryable);
  CHECK(recorder.call.partial_output);
  CHECK(recorder.call.partial_text == "The answer");
}

TEST_CASE("the key never appears in a streamed call's errors or text, even when echoed") {
  const std::string key = kKey;
  // Statuses answered with a JSON error body; 200 answered with an event stream whose
  // text and in-band error both quote the Authorization header.
  for (int status : {200, 401, 429, 500}) {
    CAPTURE(status);
    LoopbackServer echo([&](httplib::Server& s) {
      s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
        const std::string auth = req.get_header_value("Authorization");
        const std::string quoted =
            nlohmann::json(std::string(185, '.') + "you sent " + auth).dump();
        if (status != 200) {
          res.status = status;
          res.set_content(R"({"error":{"message":)" + quoted + "}}", "application/json");
          return;
        }
        const std::string sse =
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":" + quoted + "}}]}\n\n" +
            "data: {\"error\":{\"code\":500,\"message\":" + quoted + "}}\n\n";
        serve_chunked(res, sse, 9);
      });
    });
    Settings settings;
    settings.key = key;
    Recorder recorder;
    auto reply = provider_for(echo.base_url(), settings)->chat_call(ask("hi"), recorder.call);
    REQUIRE_FALSE(reply.ok());
    for (const std::string& text : {reply.error().message, reply.error().source,
                                    recorder.call.partial_text, recorder.joined()}) {
      CHECK(text.find(key) == std::string::npos);
      CHECK(text.find(key.substr(0, 12)) == std::string::npos);
    }
    if (status == 200) CHECK(recorder.joined().find("[redacted]") != std::string::npos);
  }
}

TEST_CASE("a ChatCall reused for a retry starts clean") {
  const std::string golden = corpus_file("openai_decode/stream-text-with-usage.sse");
  int served = 0;
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      // The first attempt dies after "Hello"; the second is whole.
      const std::size_t cut =
          ++served == 1 ? golden.find("\n\n", golden.find("Hello")) + 2 : testing::kWholeBody;
      if (served == 1) res.set_header("Retry-After", "3");
      serve_chunked(res, golden, 64, cut);
    });
  });
  auto provider = provider_for(server.base_url());
  Recorder recorder;
  auto first = provider->chat_call(ask("hi"), recorder.call);
  REQUIRE_FALSE(first.ok());
  CHECK(recorder.call.partial_output);
  CHECK(recorder.call.partial_text == "Hello");
  CHECK(recorder.call.retry_after == 3s);
  auto second = provider->chat_call(ask("hi"), recorder.call);
  REQUIRE_MESSAGE(second.ok(), second.error().message);
  CHECK_FALSE(recorder.call.partial_output);
  CHECK(recorder.call.partial_text.empty());
  CHECK_FALSE(recorder.call.partial_usage.has_value());
  CHECK_FALSE(recorder.call.retry_after.has_value());
  CHECK(second->content == "Hello!");
}

TEST_CASE("concurrent streamed calls through one provider each get their own answer") {
  LoopbackServer server([](httplib::Server& s) {
    s.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
      // Echo the question back, streamed: every thread must see its own words.
      ChatResponse answer;
      answer.content = nlohmann::json::parse(req.body)["messages"][0]["content"];
      answer.model = "gpt-4o-mini";
      answer.finish_reason = "stop";
      std::string sse;
      for (const auto& event : encode_chat_stream(answer, "c", 1, 3)) sse += event;
      serve_chunked(res, sse, 17);
    });
  });
  auto provider = provider_for(server.base_url());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const std::string question = "thread " + std::to_string(t) + " call " + std::to_string(i);
        Recorder recorder;
        auto reply = provider->chat_call(ask(question), recorder.call);
        if (!reply.ok() || reply->content != question || recorder.joined() != question) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures.load() == 0);
}
