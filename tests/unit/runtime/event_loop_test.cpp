// The event loop on loopback: many transfers at once from one thread, streamed bodies,
// the three timeouts, the size limit, per-transfer cancellation and exceptions,
// shutdown with transfers in flight, timers, connection reuse, and the OpenAI adapter
// running over make_loop_transport unchanged.
#include <doctest/doctest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "loopback_fixture.hpp"
#include "runtime/http/event_loop.hpp"
#include "runtime/providers/openai_provider.hpp"

using namespace perdiem;
using namespace std::chrono_literals;
using perdiem::testing::corpus_file;
using perdiem::testing::Gate;
using perdiem::testing::get;
using perdiem::testing::LoopbackServer;
using perdiem::testing::numbered_body;
using perdiem::testing::serve_chunked;

namespace {

// Outcomes of `n` transfers, by index, filled in by completions on the loop thread.
class Outcomes {
 public:
  explicit Outcomes(std::size_t n) : slots_(n) {}

  http::Completion slot(std::size_t i) {
    return [this, i](http::Outcome outcome) {
      std::lock_guard lock(mutex_);
      slots_[i].emplace(std::move(outcome));
      ++done_;
      cv_.notify_all();
    };
  }
  // Waits until every transfer completed (at most `limit`); true if all did.
  bool wait_all(std::chrono::milliseconds limit = 30s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [this] { return done_ == slots_.size(); });
  }
  http::Outcome& operator[](std::size_t i) {
    std::lock_guard lock(mutex_);
    REQUIRE(slots_[i].has_value());
    return *slots_[i];
  }
  std::size_t done() {
    std::lock_guard lock(mutex_);
    return done_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::optional<http::Outcome>> slots_;
  std::size_t done_ = 0;
};

// Counts requests inside a handler; each waits (at most `limit`) until `expected` are
// inside at once, so reaching the peak proves they were all in flight together.
class Rendezvous {
 public:
  explicit Rendezvous(int expected) : expected_(expected) {}
  void arrive_and_wait(std::chrono::milliseconds limit = 20s) {
    std::unique_lock lock(mutex_);
    ++inside_;
    peak_ = std::max(peak_, inside_);
    cv_.notify_all();
    cv_.wait_for(lock, limit, [this] { return peak_ >= expected_; });
    --inside_;
  }
  // Counts a request in without waiting for the others.
  void arrive() {
    std::lock_guard lock(mutex_);
    ++inside_;
    peak_ = std::max(peak_, inside_);
    cv_.notify_all();
  }
  // Waits until `n` requests arrived (at most `limit`).
  bool wait_inside(int n, std::chrono::milliseconds limit = 20s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return inside_ >= n; });
  }
  int peak() {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int expected_;
  int inside_ = 0;
  int peak_ = 0;
};

void large_pool(httplib::Server& s, std::size_t threads) {
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
}

// httplib listens with a backlog of 5: a burst of connections overflows it, and the
// dropped ones wait out SYN retransmits (seconds). Listening again widens the backlog.
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

}  // namespace

TEST_CASE("one loop carries 200 transfers at once, each with its own body") {
  constexpr int kTransfers = 200;
  Rendezvous rendezvous(kTransfers);
  WideBacklog backlog;
  LoopbackServer server([&](httplib::Server& s) {
    backlog.install(s);
    large_pool(s, kTransfers + 8);
    s.Get(R"(/item/(\d+))", [&](const httplib::Request& req, httplib::Response& res) {
      rendezvous.arrive_and_wait();
      res.set_content("item " + req.matches[1].str(), "application/octet-stream");
    });
  });
  backlog.widen();
  http::EventLoop loop;
  Outcomes outcomes(kTransfers);
  for (int i = 0; i < kTransfers; ++i) {
    loop.submit(get(server.origin() + "/item/" + std::to_string(i)), outcomes.slot(i));
  }
  const bool all = outcomes.wait_all();
  INFO("completed " << outcomes.done() << ", peak at the server " << rendezvous.peak());
  REQUIRE(all);
  CHECK(rendezvous.peak() == kTransfers);
  for (int i = 0; i < kTransfers; ++i) {
    auto& result = outcomes[i].result;
    REQUIRE_MESSAGE(result.ok(), result.error().message);
    CHECK(result.value().status == 200);
    CHECK(result.value().body == "item " + std::to_string(i));
  }
}

TEST_CASE("a streamed body arrives in order on the loop thread, after the head") {
  const std::string body = numbered_body(100'000);
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/stream", [&](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Marker", "m1");
      serve_chunked(res, body, 777, testing::kWholeBody, "application/octet-stream");
    });
  });
  http::EventLoop loop;
  http::Request request = get(server.origin() + "/stream");
  std::string received;
  int chunks = 0;
  bool head_before_body = false;
  bool on_loop_thread = true;
  std::string marker;
  request.on_head = [&](const http::Response& head) {
    head_before_body = received.empty() && head.status == 200;
    marker = head.header("x-marker");
    on_loop_thread = on_loop_thread && loop.in_loop_thread();
    return true;
  };
  request.on_body_chunk = [&](std::string_view chunk) {
    received.append(chunk);
    ++chunks;
    on_loop_thread = on_loop_thread && loop.in_loop_thread();
    return true;
  };
  Outcomes outcomes(1);
  loop.submit(std::move(request), outcomes.slot(0));
  REQUIRE(outcomes.wait_all());
  auto& result = outcomes[0].result;
  REQUIRE_MESSAGE(result.ok(), result.error().message);
  CHECK(result.value().body.empty());
  CHECK(received == body);
  CHECK(chunks > 1);
  CHECK(head_before_body);
  CHECK(marker == "m1");
  CHECK(on_loop_thread);
  CHECK_FALSE(loop.in_loop_thread());
}

TEST_CASE("first-byte, idle and whole-exchange timeouts fail only their own transfer") {
  Gate gate;
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/silent", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, "late", 4, testing::kWholeBody, "application/octet-stream",
                    [&](std::size_t) { gate.wait(); });
    });
    s.Get("/stall", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, std::string(200, 's'), 100, testing::kWholeBody,
                    "application/octet-stream", [&](std::size_t offset) {
                      if (offset > 0) gate.wait();
                    });
    });
    s.Get("/quick", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("quick", "application/octet-stream");
    });
  });
  http::EventLoop loop;
  http::Request first_byte = get(server.origin() + "/silent");
  first_byte.first_byte_timeout = 300ms;
  first_byte.on_body_chunk = [](std::string_view) { return true; };
  http::Request idle = get(server.origin() + "/stall");
  idle.idle_timeout = 300ms;
  idle.on_body_chunk = [](std::string_view) { return true; };
  http::Request whole = get(server.origin() + "/silent");
  whole.timeout = 300ms;

  Outcomes outcomes(4);
  loop.submit(std::move(first_byte), outcomes.slot(0));
  loop.submit(std::move(idle), outcomes.slot(1));
  loop.submit(std::move(whole), outcomes.slot(2));
  loop.submit(get(server.origin() + "/quick"), outcomes.slot(3));
  // The timeouts must fire while the server still holds the three slow answers.
  bool all = false;
  for (int i = 0; i < 100 && !all; ++i) {
    all = outcomes.done() == 4;
    if (!all) std::this_thread::sleep_for(50ms);
  }
  gate.release();
  REQUIRE(outcomes.wait_all());
  REQUIRE(all);

  auto& a = outcomes[0].result;
  REQUIRE_FALSE(a.ok());
  CHECK(a.error().kind == ErrorKind::timeout);
  CHECK(a.error().retryable);
  CHECK(a.error().message.find("began within 300 ms") != std::string::npos);
  auto& b = outcomes[1].result;
  REQUIRE_FALSE(b.ok());
  CHECK(b.error().kind == ErrorKind::timeout);
  CHECK(b.error().message.find("stalled") != std::string::npos);
  auto& c = outcomes[2].result;
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().kind == ErrorKind::timeout);
  CHECK(c.error().message.find("within 300 ms") != std::string::npos);
  auto& d = outcomes[3].result;
  REQUIRE_MESSAGE(d.ok(), d.error().message);
  CHECK(d.value().body == "quick");
}

TEST_CASE("a body over max_response_bytes fails as bad_response, whole or streamed") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, std::string(5000, 'b'), 512, testing::kWholeBody,
                    "application/octet-stream");
    });
  });
  http::EventLoop loop;
  http::Request whole = get(server.origin() + "/big");
  whole.max_response_bytes = 1000;
  http::Request streamed = get(server.origin() + "/big");
  streamed.max_response_bytes = 1000;
  std::size_t delivered = 0;
  streamed.on_body_chunk = [&](std::string_view chunk) {
    delivered += chunk.size();
    return true;
  };
  Outcomes outcomes(2);
  loop.submit(std::move(whole), outcomes.slot(0));
  loop.submit(std::move(streamed), outcomes.slot(1));
  REQUIRE(outcomes.wait_all());
  for (std::size_t i = 0; i < 2; ++i) {
    auto& result = outcomes[i].result;
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::bad_response);
    CHECK(result.error().message.find("1000 bytes") != std::string::npos);
  }
  CHECK(delivered <= 1000);
}

TEST_CASE("a callback returning false cancels its transfer only") {
  const std::string body = numbered_body(50'000);
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/stream", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, body, 1000, testing::kWholeBody, "application/octet-stream");
    });
  });
  http::EventLoop loop;
  constexpr std::size_t kTransfers = 6;
  std::vector<std::string> received(kTransfers);
  Outcomes outcomes(kTransfers);
  for (std::size_t i = 0; i < kTransfers; ++i) {
    http::Request request = get(server.origin() + "/stream");
    if (i == 2) {
      request.on_body_chunk = [](std::string_view) { return false; };
    } else if (i == 4) {
      request.on_head = [](const http::Response&) { return false; };
    } else {
      request.on_body_chunk = [&received, i](std::string_view chunk) {
        received[i].append(chunk);
        return true;
      };
    }
    loop.submit(std::move(request), outcomes.slot(i));
  }
  REQUIRE(outcomes.wait_all());
  for (std::size_t i = 0; i < kTransfers; ++i) {
    CAPTURE(i);
    auto& result = outcomes[i].result;
    if (i == 2 || i == 4) {
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().kind == ErrorKind::cancelled);
      CHECK_FALSE(outcomes[i].thrown);
    } else {
      REQUIRE_MESSAGE(result.ok(), result.error().message);
      CHECK(received[i] == body);
    }
  }
}

TEST_CASE("an exception from a callback reaches its own completion and no other") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/full", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(5000, 'x'), "application/octet-stream");
    });
    s.Get("/empty", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  });
  http::EventLoop loop;
  Outcomes outcomes(3);
  http::Request throws_in_body = get(server.origin() + "/full");
  throws_in_body.on_body_chunk = [](std::string_view) -> bool {
    throw std::runtime_error("boom in body");
  };
  // An empty body's head reaches on_head after libcurl finished: outside its frames.
  http::Request throws_in_head = get(server.origin() + "/empty");
  throws_in_head.on_head = [](const http::Response&) -> bool {
    throw std::runtime_error("boom in head");
  };
  loop.submit(std::move(throws_in_body), outcomes.slot(0));
  loop.submit(std::move(throws_in_head), outcomes.slot(1));
  loop.submit(get(server.origin() + "/full"), outcomes.slot(2));
  REQUIRE(outcomes.wait_all());

  REQUIRE(outcomes[0].thrown);
  CHECK(outcomes[0].result.error().kind == ErrorKind::cancelled);
  CHECK_THROWS_WITH_AS(std::move(outcomes[0]).take(), "boom in body", std::runtime_error);
  REQUIRE(outcomes[1].thrown);
  CHECK_THROWS_WITH_AS(std::move(outcomes[1]).take(), "boom in head", std::runtime_error);
  CHECK_FALSE(outcomes[2].thrown);
  auto& fine = outcomes[2].result;
  REQUIRE_MESSAGE(fine.ok(), fine.error().message);
  CHECK(fine.value().body.size() == 5000);
}

TEST_CASE("the loop transport rethrows a callback's exception from send(), on the caller") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/full", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(5000, 'x'), "application/octet-stream");
    });
  });
  auto loop = std::make_shared<http::EventLoop>();
  auto transport = http::make_loop_transport(loop);
  http::Request request = get(server.origin() + "/full");
  request.on_body_chunk = [](std::string_view) -> bool { throw std::runtime_error("lua error"); };
  CHECK_THROWS_WITH_AS((void)transport->send(request), "lua error", std::runtime_error);
  // The loop carries on.
  auto after = transport->send(get(server.origin() + "/full"));
  REQUIRE_MESSAGE(after.ok(), after.error().message);
  CHECK(after.value().body.size() == 5000);
}

TEST_CASE("destroying the loop cancels transfers in flight and queued, and drops timers") {
  constexpr int kTransfers = 20;
  Gate gate;
  Rendezvous arrived(kTransfers);
  LoopbackServer server([&](httplib::Server& s) {
    large_pool(s, kTransfers + 4);
    s.Get("/hold", [&](const httplib::Request&, httplib::Response& res) {
      arrived.arrive();
      gate.wait();
      res.set_content("late", "text/plain");
    });
  });
  Outcomes outcomes(kTransfers);
  std::atomic<bool> timer_ran{false};
  std::atomic<int> cancelled_on_loop{0};
  {
    auto loop = std::make_unique<http::EventLoop>();
    auto* raw = loop.get();
    for (int i = 0; i < kTransfers; ++i) {
      loop->submit(get(server.origin() + "/hold"),
                   [&, raw, done = outcomes.slot(i)](http::Outcome outcome) {
                     if (raw->in_loop_thread()) ++cancelled_on_loop;
                     done(std::move(outcome));
                   });
    }
    loop->post_after(1h, [&] { timer_ran = true; });
    REQUIRE(arrived.wait_inside(kTransfers));
  }  // the destructor cancels, then joins
  CHECK(outcomes.done() == kTransfers);
  CHECK(cancelled_on_loop == kTransfers);
  CHECK_FALSE(timer_ran);
  for (int i = 0; i < kTransfers; ++i) {
    auto& result = outcomes[i].result;
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == ErrorKind::cancelled);
    CHECK(result.error().message.find("event loop shut down") != std::string::npos);
  }
  gate.release();
}

TEST_CASE("timers run on the loop thread in due order, posts in posting order") {
  http::EventLoop loop;
  std::mutex mutex;
  std::vector<std::string> order;
  std::promise<void> finished;
  bool all_on_loop = true;
  auto record = [&](std::string name) {
    return [&, name] {
      std::lock_guard lock(mutex);
      order.push_back(name);
      all_on_loop = all_on_loop && loop.in_loop_thread();
    };
  };
  loop.post_after(120ms, [&] {
    record("d-120ms")();
    finished.set_value();
  });
  loop.post_after(40ms, record("b-40ms"));
  loop.post(record("a1-now"));
  loop.post_after(40ms, record("c-40ms-posted-later"));
  loop.post(record("a2-now"));
  loop.post_after(60ms, [&] {
    record("c2-60ms")();
    loop.post_after(10ms, record("c3-posted-from-a-timer"));
  });
  REQUIRE(finished.get_future().wait_for(10s) == std::future_status::ready);
  std::lock_guard lock(mutex);
  CHECK(order == std::vector<std::string>{"a1-now", "a2-now", "b-40ms", "c-40ms-posted-later",
                                          "c2-60ms", "c3-posted-from-a-timer", "d-120ms"});
  CHECK(all_on_loop);
}

TEST_CASE("the loop reuses a kept-alive connection for the next transfer to a host") {
  std::mutex mutex;
  std::vector<int> ports;
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/who", [&](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      ports.push_back(req.remote_port);
      res.set_content("ok", "text/plain");
    });
  });
  http::EventLoop loop;
  for (bool reuse : {true, true, false, false}) {
    http::Request request = get(server.origin() + "/who");
    request.reuse_connection = reuse;
    Outcomes outcomes(1);
    loop.submit(std::move(request), outcomes.slot(0));
    REQUIRE(outcomes.wait_all());
    REQUIRE(outcomes[0].result.ok());
  }
  std::lock_guard lock(mutex);
  REQUIRE(ports.size() == 4);
  CHECK(ports[0] == ports[1]);  // kept alive, reused
  CHECK(ports[2] == ports[1]);  // still cached; closed after this one
  CHECK(ports[3] != ports[2]);
}

TEST_CASE("a blocking send() from the loop thread fails instead of deadlocking") {
  auto loop = std::make_shared<http::EventLoop>();
  auto transport = http::make_loop_transport(loop);
  std::promise<Result<http::Response>> from_loop;
  loop->post([&] { from_loop.set_value(transport->send(get("http://127.0.0.1:9/"))); });
  auto future = from_loop.get_future();
  REQUIRE(future.wait_for(10s) == std::future_status::ready);
  auto result = future.get();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == ErrorKind::internal);
}

TEST_CASE("the OpenAI adapter runs over the loop transport, streamed and not") {
  const std::string whole = corpus_file("openai_decode/response-text.json");
  const std::string stream = corpus_file("openai_decode/stream-text-with-usage.sse");
  std::atomic<int> requests{0};
  LoopbackServer server([&](httplib::Server& s) {
    s.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
      ++requests;
      if (req.body.find("\"stream\":true") != std::string::npos) {
        serve_chunked(res, stream, 7);
      } else {
        res.set_content(whole, "application/json");
      }
    });
  });
  auto loop = std::make_shared<http::EventLoop>();
  providers::OpenAiProviderConfig config;
  config.name = "loopback";
  config.base_url = server.base_url();
  config.api_key = base::SecureBuffer::from_string("sk-loop-test-0123456789");
  config.default_model = "gpt-4o-mini";
  config.timeout = 10s;
  auto provider = providers::make_openai_provider(std::move(config),
                                                  std::shared_ptr(http::make_loop_transport(loop)));
  providers::ChatRequest request;
  request.model = "gpt-4o-mini";
  request.messages = {{"user", "hi"}};

  auto plain = provider->chat(request);
  REQUIRE_MESSAGE(plain.ok(), plain.error().message);
  CHECK(plain.value().content == "Hi there");
  CHECK(plain.value().usage.input_tokens == 12);
  CHECK(plain.value().usage.output_tokens == 3);

  std::vector<std::string> pieces;
  providers::ChatCall call;
  call.on_text = [&](std::string_view text) { pieces.emplace_back(text); };
  auto streamed = provider->chat_call(request, call);
  REQUIRE_MESSAGE(streamed.ok(), streamed.error().message);
  CHECK(pieces == std::vector<std::string>{"Hello", "!"});
  CHECK(streamed.value().content == "Hello!");
  CHECK(streamed.value().usage.output_tokens == 2);
  CHECK(call.http_status == 200);
  CHECK(requests == 2);
}
