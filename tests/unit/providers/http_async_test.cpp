// start_chat on the HTTP adapters (OpenAI-compatible and Anthropic) over loopback: the
// same answers, errors and partial output as chat_call, from outside and inside the loop
// thread; many calls in flight on one loop; a loop shut down mid-call.
#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../runtime/loopback_fixture.hpp"
#include "../runtime/mock_fixture.hpp"
#include "async_fixture.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/http/event_loop.hpp"
#include "runtime/providers/anthropic_provider.hpp"
#include "runtime/providers/openai_provider.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace std::chrono_literals;
using perdiem::providers::testing::Ends;
using perdiem::providers::testing::InFlight;
using perdiem::providers::testing::start_marked;
using perdiem::providers::testing::start_mock;
using perdiem::providers::testing::user_says;
using perdiem::testing::Gate;
using perdiem::testing::LoopbackServer;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kKey = "sk-async-test-0123456789abcdef";

// A canned answer in each wire format, for servers the tests write themselves.
constexpr const char* kOpenAiAnswer =
    R"({"id":"c1","object":"chat.completion","created":1,"model":"m-1","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"held"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";
constexpr const char* kAnthropicAnswer =
    R"({"id":"msg_1","type":"message","role":"assistant","model":"m-1",)"
    R"("content":[{"type":"text","text":"held"}],"stop_reason":"end_turn",)"
    R"("usage":{"input_tokens":3,"output_tokens":1}})";

struct Adapter {
  std::string name;
  std::string path;    // the chat route under /v1
  std::string answer;  // a whole answer saying "held"
  std::function<std::unique_ptr<Provider>(const std::string& base_url)> make;
};

std::vector<Adapter> adapters() {
  return {
      {"openai", "/v1/chat/completions", kOpenAiAnswer,
       [](const std::string& base_url) {
         OpenAiProviderConfig config;
         config.name = "openai-loop";
         config.base_url = base_url;
         config.api_key = base::SecureBuffer::from_string(kKey);
         config.timeout = 20s;
         return make_openai_provider(std::move(config), http::make_curl_transport());
       }},
      {"anthropic", "/v1/messages", kAnthropicAnswer,
       [](const std::string& base_url) {
         AnthropicProviderConfig config;
         config.name = "anthropic-loop";
         config.base_url = base_url;
         config.api_key = base::SecureBuffer::from_string(kKey);
         config.timeout = 20s;
         return make_anthropic_provider(std::move(config), http::make_curl_transport());
       }},
  };
}

// httplib listens with a backlog of 5; a burst of 200 connections needs a wider one.
class WideBacklog {
 public:
  void install(httplib::Server& s) {
    s.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      fd_ = sock;
    });
  }
  void widen() {
    REQUIRE(fd_ >= 0);
    REQUIRE(::listen(fd_, 1024) == 0);
  }

 private:
  int fd_ = -1;
};

// A streamed call's text as on_text saw it, and whether every piece came on the loop.
struct Collected {
  std::string text;
  bool on_loop = true;
};

ChatCall streaming_into(Collected& collected, http::EventLoop& loop) {
  ChatCall call;
  call.on_text = [&collected, &loop](std::string_view piece) {
    collected.text += piece;
    collected.on_loop = collected.on_loop && loop.in_loop_thread();
  };
  return call;
}

}  // namespace

TEST_CASE("start_chat answers as chat_call does, whole and streamed, from any thread") {
  auto server = start_mock();
  const ChatRequest request = user_says("hello there, loop");
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    auto provider = adapter.make(server->base_url());
    ChatCall blocking_call;
    auto expected = provider->chat_call(request, blocking_call);
    REQUIRE_MESSAGE(expected.ok(), expected.error().message);

    http::EventLoop loop;
    Ends ends(4, loop);
    ChatCall whole_outside;
    ChatCall whole_inside;
    Collected outside_text;
    Collected inside_text;
    ChatCall streamed_outside = streaming_into(outside_text, loop);
    ChatCall streamed_inside = streaming_into(inside_text, loop);
    start_marked(*provider, request, whole_outside, loop, ends.slot(0));
    start_marked(*provider, request, streamed_outside, loop, ends.slot(1));
    loop.post([&] {
      start_marked(*provider, request, whole_inside, loop, ends.slot(2));
      start_marked(*provider, request, streamed_inside, loop, ends.slot(3));
    });
    REQUIRE(ends.wait_all(20s));
    ends.check_once_on_loop();
    for (std::size_t i = 0; i < 4; ++i) {
      CAPTURE(i);
      REQUIRE_MESSAGE(ends[i].ok(), ends[i].error().message);
      CHECK(ends[i].value().content == expected.value().content);
      CHECK(ends[i].value().usage.output_tokens == expected.value().usage.output_tokens);
      CHECK(ends[i].value().model == expected.value().model);
    }
    CHECK(outside_text.text == expected.value().content);
    CHECK(inside_text.text == expected.value().content);
    CHECK(outside_text.on_loop);
    CHECK(inside_text.on_loop);
    for (ChatCall* call : {&whole_outside, &whole_inside, &streamed_outside, &streamed_inside}) {
      CHECK(call->http_status == 200);
      CHECK_FALSE(call->partial_output);
    }
    CHECK(streamed_outside.ttft_us.has_value());
    CHECK(streamed_inside.ttft_us.has_value());
  }
}

TEST_CASE("start_chat maps 429 and 500 with the status and Retry-After filled") {
  for (int status : {429, 500}) {
    MockProviderOptions options;
    options.fail_first = 1000;
    options.fail_status = status;
    options.retry_after_seconds = 3;
    auto server = start_mock(options);
    for (const Adapter& adapter : adapters()) {
      CAPTURE(adapter.name);
      CAPTURE(status);
      auto provider = adapter.make(server->base_url());
      http::EventLoop loop;
      Ends ends(2, loop);
      ChatCall whole;
      Collected text;
      ChatCall streamed = streaming_into(text, loop);
      start_marked(*provider, user_says("hi"), whole, loop, ends.slot(0));
      start_marked(*provider, user_says("hi"), streamed, loop, ends.slot(1));
      REQUIRE(ends.wait_all(20s));
      ends.check_once_on_loop();
      for (std::size_t i = 0; i < 2; ++i) {
        CAPTURE(i);
        REQUIRE_FALSE(ends[i].ok());
        const Error& error = ends[i].error();
        CHECK(error.kind == (status == 429 ? ErrorKind::rate_limited : ErrorKind::provider));
        CHECK(error.retryable);
        CHECK(error.source == provider->name());
        CHECK(error.message.find(kKey) == std::string::npos);
      }
      for (ChatCall* call : {&whole, &streamed}) {
        CHECK(call->http_status == status);
        CHECK(call->retry_after == std::chrono::milliseconds(3000));
        CHECK_FALSE(call->partial_output);
      }
      CHECK(text.text.empty());
    }
  }
}

TEST_CASE("start_chat: a stream cut after text fails with partial output, never retryable") {
  MockProviderOptions options;
  options.cut_after_chunks = 4;
  auto server = start_mock(options);
  const ChatRequest request =
      user_says("reply with exactly: alpha beta gamma delta epsilon zeta eta theta");
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    auto provider = adapter.make(server->base_url());
    http::EventLoop loop;
    Ends ends(1, loop);
    Collected text;
    ChatCall call = streaming_into(text, loop);
    start_marked(*provider, request, call, loop, ends.slot(0));
    REQUIRE(ends.wait_all(20s));
    ends.check_once_on_loop();
    REQUIRE_FALSE(ends[0].ok());
    CHECK_FALSE(ends[0].error().retryable);
    CHECK(call.partial_output);
    CHECK_FALSE(call.partial_text.empty());
    CHECK(call.partial_text == text.text);
    CHECK(std::string("alpha beta gamma delta epsilon zeta eta theta").starts_with(text.text));
  }
}

TEST_CASE("start_chat: on_text setting stop_requested stops the stream with cancelled") {
  MockProviderOptions options;
  options.chunk_delay = 5ms;
  auto server = start_mock(options);
  const ChatRequest request = user_says("reply with exactly: one two three four five six");
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    auto provider = adapter.make(server->base_url());
    http::EventLoop loop;
    Ends ends(1, loop);
    ChatCall call;
    std::string seen;
    call.on_text = [&](std::string_view piece) {
      seen += piece;
      call.stop_requested = true;
    };
    start_marked(*provider, request, call, loop, ends.slot(0));
    REQUIRE(ends.wait_all(20s));
    ends.check_once_on_loop();
    REQUIRE_FALSE(ends[0].ok());
    CHECK(ends[0].error().kind == ErrorKind::cancelled);
    CHECK(call.partial_output);
    CHECK(call.partial_text == seen);
    CHECK(seen.size() < std::string("one two three four five six").size());
  }
}

TEST_CASE("200 start_chat calls are in flight at once on one loop") {
  constexpr std::size_t kCalls = 200;
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    InFlight in_flight;
    WideBacklog backlog;
    LoopbackServer server([&](httplib::Server& s) {
      backlog.install(s);
      s.new_task_queue = [] { return new httplib::ThreadPool(kCalls + 8); };
      s.Post(adapter.path, [&](const httplib::Request&, httplib::Response& res) {
        in_flight.enter();
        std::this_thread::sleep_for(100ms);
        in_flight.leave();
        res.set_content(adapter.answer, "application/json");
      });
    });
    backlog.widen();
    auto provider = adapter.make(server.base_url());
    http::EventLoop loop;
    Ends ends(kCalls, loop);
    std::vector<ChatCall> calls(kCalls);
    const ChatRequest request = user_says("hold me");
    const auto start = Clock::now();
    for (std::size_t i = 0; i < kCalls; ++i) {
      start_marked(*provider, request, calls[i], loop, ends.slot(i));
    }
    REQUIRE(ends.wait_all(30s));
    const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    MESSAGE(adapter.name << ": 200 calls held 100 ms each: " << wall.count()
                         << " ms wall, peak in flight " << in_flight.peak());
    ends.check_once_on_loop();
    for (std::size_t i = 0; i < kCalls; ++i) {
      REQUIRE_MESSAGE(ends[i].ok(), ends[i].error().message);
      CHECK(ends[i].value().content == "held");
    }
    CHECK(in_flight.peak() >= 50);  // one after another would be 1
    CHECK(wall < 3s);               // one after another would be 20 s
  }
}

TEST_CASE("start_chat: a loop shut down mid-call ends each call once with cancelled") {
  constexpr int kCalls = 10;
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    Gate gate;
    InFlight in_flight;
    LoopbackServer server([&](httplib::Server& s) {
      s.new_task_queue = [] { return new httplib::ThreadPool(kCalls + 4); };
      s.Post(adapter.path, [&](const httplib::Request&, httplib::Response& res) {
        in_flight.enter();
        gate.wait();
        res.set_content(adapter.answer, "application/json");
      });
    });
    auto provider = adapter.make(server.base_url());
    std::vector<ChatCall> calls(kCalls);
    std::vector<Collected> texts(kCalls);
    std::atomic<int> ended{0};
    std::atomic<int> cancelled{0};
    std::atomic<int> on_loop{0};
    {
      http::EventLoop loop;
      for (int i = 0; i < kCalls; ++i) {
        auto& call = calls[static_cast<std::size_t>(i)];
        if (i % 2 == 1) call = streaming_into(texts[static_cast<std::size_t>(i)], loop);
        provider->start_chat(user_says("wait"), call, loop, [&](Result<ChatResponse> result) {
          ++ended;
          if (loop.in_loop_thread()) ++on_loop;
          if (!result.ok() && result.error().kind == ErrorKind::cancelled) ++cancelled;
        });
      }
      for (int tries = 0; in_flight.peak() < kCalls && tries < 2000; ++tries) {
        std::this_thread::sleep_for(5ms);
      }
      CHECK(in_flight.peak() == kCalls);
    }
    CHECK(ended == kCalls);
    CHECK(cancelled == kCalls);
    CHECK(on_loop == kCalls);
    gate.release();
  }
}

TEST_CASE("start_chat from inside done: a chain of calls, each started by the last one's end") {
  auto server = start_mock();
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    auto provider = adapter.make(server->base_url());
    http::EventLoop loop;
    constexpr std::size_t kChain = 6;
    Ends ends(kChain, loop);
    std::vector<ChatCall> calls(kChain);
    std::vector<Collected> texts(kChain);
    std::function<void(std::size_t)> start_at = [&](std::size_t i) {
      if (i % 2 == 1) calls[i] = streaming_into(texts[i], loop);
      ChatDone record = ends.slot(i);
      start_marked(*provider, user_says("link " + std::to_string(i)), calls[i], loop,
                   [&, i, record](Result<ChatResponse> result) {
                     record(std::move(result));
                     if (i + 1 < kChain) start_at(i + 1);  // a submit from a completion
                   });
    };
    start_at(0);
    REQUIRE(ends.wait_all(20s));
    ends.check_once_on_loop();
    for (std::size_t i = 0; i < kChain; ++i) {
      CAPTURE(i);
      REQUIRE_MESSAGE(ends[i].ok(), ends[i].error().message);
      CHECK(ends[i].value().content.find("link " + std::to_string(i)) != std::string::npos);
      if (i % 2 == 1) CHECK(texts[i].text == ends[i].value().content);
    }
  }
}

TEST_CASE("start_chat: a key the server echoes never reaches the answer, errors or on_text") {
  for (const Adapter& adapter : adapters()) {
    CAPTURE(adapter.name);
    LoopbackServer server([&](httplib::Server& s) {
      s.Post(adapter.path, [&](const httplib::Request& req, httplib::Response& res) {
        if (req.body.find("\"stream\":true") != std::string::npos) {
          // A 401 whose JSON error quotes the key, for the streamed request.
          res.status = 401;
          res.set_content(std::string(R"({"error":{"type":"authentication_error",)") +
                              R"("message":"bad key )" + kKey + R"("}})",
                          "application/json");
        } else {
          std::string answer = adapter.answer;
          answer.replace(answer.find("held"), 4, std::string("held ") + kKey);
          res.set_content(answer, "application/json");
        }
      });
    });
    auto provider = adapter.make(server.base_url());
    http::EventLoop loop;
    Ends ends(2, loop);
    ChatCall whole;
    Collected text;
    ChatCall streamed = streaming_into(text, loop);
    start_marked(*provider, user_says("leak?"), whole, loop, ends.slot(0));
    start_marked(*provider, user_says("leak?"), streamed, loop, ends.slot(1));
    REQUIRE(ends.wait_all(20s));
    ends.check_once_on_loop();
    REQUIRE(ends[0].ok());
    CHECK(ends[0].value().content.find(kKey) == std::string::npos);
    CHECK(ends[0].value().content.find("[redacted]") != std::string::npos);
    REQUIRE_FALSE(ends[1].ok());
    CHECK(ends[1].error().kind == ErrorKind::auth);
    CHECK(ends[1].error().message.find(kKey) == std::string::npos);
    CHECK(streamed.http_status == 401);
    CHECK(text.text.empty());
  }
}
