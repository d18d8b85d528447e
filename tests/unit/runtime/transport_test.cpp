// The libcurl transport on loopback: bodies streamed to a callback, the response head
// before the first piece, the size limit across pieces, first-byte and idle timeouts,
// cut-off bodies, connection reuse, the proxy environment; and Retry-After parsing.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "loopback_fixture.hpp"
#include "runtime/http/curl_transport.hpp"
#include "runtime/http/retry_after.hpp"

using namespace perdiem;
using namespace std::chrono_literals;
using perdiem::testing::Gate;
using perdiem::testing::get;
using perdiem::testing::LoopbackServer;
using perdiem::testing::numbered_body;
using perdiem::testing::serve_chunked;

namespace {

std::shared_ptr<http::Transport> curl() {
  static std::shared_ptr<http::Transport> transport = http::make_curl_transport();
  return transport;
}

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") for `when`.
std::string http_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[64];
  REQUIRE(std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm) > 0);
  return text;
}

http::Response with_headers(std::vector<std::pair<std::string, std::string>> headers) {
  http::Response response;
  response.status = 429;
  response.headers = std::move(headers);
  return response;
}

}  // namespace

TEST_CASE("a streamed body arrives in order, after the head, and not in Response::body") {
  const std::string body = numbered_body(100'000);
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/stream", [&](const httplib::Request&, httplib::Response& res) {
      res.set_header("X-Marker", "m1");
      serve_chunked(res, body, 777, testing::kWholeBody, "application/octet-stream");
    });
  });
  http::Request request = get(server.origin() + "/stream");
  std::string received;
  int chunks = 0;
  long head_status = 0;
  std::string marker;
  bool head_before_body = false;
  request.on_head = [&](const http::Response& head) {
    head_status = head.status;
    marker = head.header("x-marker");
    head_before_body = received.empty();
    return true;
  };
  request.on_body_chunk = [&](std::string_view chunk) {
    received.append(chunk);
    ++chunks;
    return true;
  };
  auto response = curl()->send(request);
  REQUIRE_MESSAGE(response.ok(), response.error().message);
  CHECK(response->status == 200);
  CHECK(response->body.empty());
  CHECK(received == body);
  CHECK(chunks > 1);
  CHECK(head_status == 200);
  CHECK(marker == "m1");
  CHECK(head_before_body);
}

TEST_CASE("on_head sees an empty body's status too, and returning false cancels") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/empty", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
    s.Get("/full", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(5000, 'x'), "application/octet-stream");
    });
  });
  http::Request empty = get(server.origin() + "/empty");
  long seen = 0;
  empty.on_head = [&](const http::Response& head) {
    seen = head.status;
    return true;
  };
  auto answer = curl()->send(empty);
  REQUIRE(answer.ok());
  CHECK(seen == 204);

  http::Request refused = get(server.origin() + "/full");
  bool chunk_seen = false;
  refused.on_head = [](const http::Response&) { return false; };
  refused.on_body_chunk = [&](std::string_view) { return chunk_seen = true; };
  auto stopped = curl()->send(refused);
  REQUIRE_FALSE(stopped.ok());
  CHECK(stopped.error().kind == ErrorKind::cancelled);
  CHECK_FALSE(chunk_seen);
}

TEST_CASE("the size limit holds across streamed chunks") {
  const std::string body = numbered_body(50'000);
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/big", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, body, 1000, testing::kWholeBody, "application/octet-stream");
    });
  });
  for (bool streamed : {true, false}) {
    CAPTURE(streamed);
    http::Request request = get(server.origin() + "/big");
    request.max_response_bytes = 20'000;
    std::size_t received = 0;
    if (streamed) {
      request.on_body_chunk = [&](std::string_view chunk) {
        received += chunk.size();
        return true;
      };
    }
    auto answer = curl()->send(request);
    REQUIRE_FALSE(answer.ok());
    CHECK(answer.error().kind == ErrorKind::bad_response);
    CHECK(answer.error().message.find("20000 bytes") != std::string::npos);
    CHECK(received <= request.max_response_bytes);
  }
  http::Request exact = get(server.origin() + "/big");
  exact.max_response_bytes = body.size();
  auto fits = curl()->send(exact);
  REQUIRE(fits.ok());
  CHECK(fits->body == body);
}

TEST_CASE("the first-byte timeout fires when the body does not start") {
  Gate gate;
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/late", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, "late", 4, testing::kWholeBody, "application/octet-stream",
                    [&](std::size_t offset) {
                      if (offset == 0) gate.wait();
                    });
    });
  });
  http::Request request = get(server.origin() + "/late");
  request.first_byte_timeout = 300ms;
  request.idle_timeout = 10s;
  request.on_body_chunk = [](std::string_view) { return true; };
  const auto started = std::chrono::steady_clock::now();
  auto answer = curl()->send(request);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  gate.release();
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().kind == ErrorKind::timeout);
  CHECK(answer.error().retryable);
  CHECK(answer.error().message.find("300 ms") != std::string::npos);
  CHECK(elapsed >= 300ms);
  CHECK(elapsed < 3s);
}

TEST_CASE("the idle timeout fires when a started body stalls") {
  Gate gate;
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/stall", [&](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, "abcdefgh", 4, testing::kWholeBody, "application/octet-stream",
                    [&](std::size_t offset) {
                      if (offset == 4) gate.wait();
                    });
    });
  });
  http::Request request = get(server.origin() + "/stall");
  request.first_byte_timeout = 10s;
  request.idle_timeout = 300ms;
  std::string received;
  request.on_body_chunk = [&](std::string_view chunk) {
    received.append(chunk);
    return true;
  };
  const auto started = std::chrono::steady_clock::now();
  auto answer = curl()->send(request);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  gate.release();
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().kind == ErrorKind::timeout);
  CHECK(answer.error().message.find("stalled") != std::string::npos);
  CHECK(received == "abcd");
  CHECK(elapsed < 3s);
}

TEST_CASE("a body cut off before its end is a retryable transport error") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/cut", [](const httplib::Request&, httplib::Response& res) {
      serve_chunked(res, std::string(1000, 'z'), 100, 450, "application/octet-stream");
    });
  });
  for (bool streamed : {true, false}) {
    CAPTURE(streamed);
    http::Request request = get(server.origin() + "/cut");
    std::size_t received = 0;
    if (streamed) {
      request.on_body_chunk = [&](std::string_view chunk) {
        received += chunk.size();
        return true;
      };
    }
    auto answer = curl()->send(request);
    REQUIRE_FALSE(answer.ok());
    CHECK(answer.error().kind == ErrorKind::transport);
    CHECK(answer.error().retryable);
    CHECK(answer.error().message.find("cut off") != std::string::npos);
    if (streamed) CHECK(received == 450);
  }
}

TEST_CASE("connections are reused on request, and closed to loopback by default") {
  std::mutex mutex;
  std::vector<int> ports;
  LoopbackServer server([&](httplib::Server& s) {
    s.Get("/who", [&](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      ports.push_back(req.remote_port);
      res.set_content("ok", "application/octet-stream");
    });
  });
  auto send = [&](std::optional<bool> reuse) {
    http::Request request = get(server.origin() + "/who");
    request.reuse_connection = reuse;
    auto answer = curl()->send(request);
    REQUIRE(answer.ok());
  };
  send(true);
  send(true);
  send(false);  // reuses, then closes: the server's worker is free at once
  send(std::nullopt);
  send(std::nullopt);
  std::lock_guard lock(mutex);
  REQUIRE(ports.size() == 5);
  CHECK(ports[0] == ports[1]);
  CHECK(ports[1] == ports[2]);
  CHECK(ports[3] != ports[2]);
  CHECK(ports[4] != ports[3]);
}

TEST_CASE("a send from inside a body callback works on a connection of its own") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/outer", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("outer", "application/octet-stream");
    });
    s.Get("/inner", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("inner", "application/octet-stream");
    });
  });
  http::Request outer = get(server.origin() + "/outer");
  std::string inner_body;
  outer.on_body_chunk = [&](std::string_view) {
    auto inner = curl()->send(get(server.origin() + "/inner"));
    if (inner.ok()) inner_body = inner->body;
    return true;
  };
  auto answer = curl()->send(outer);
  REQUIRE(answer.ok());
  CHECK(inner_body == "inner");
}

TEST_CASE("libcurl honours http_proxy from the environment") {
  std::mutex mutex;
  std::string proxied_target;
  LoopbackServer proxy([&](httplib::Server& s) {
    s.Get(".*", [&](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mutex);
      proxied_target = req.target;
      res.set_content("via proxy", "application/octet-stream");
    });
  });
  struct EnvGuard {
    explicit EnvGuard(const std::string& value) { ::setenv("http_proxy", value.c_str(), 1); }
    ~EnvGuard() { ::unsetenv("http_proxy"); }
  } guard(proxy.origin());
  // A host that cannot resolve: only a proxy can answer for it.
  http::Request request = get("http://perdiem-proxy-test.invalid/v1/models");
  request.reuse_connection = false;  // frees the proxy's worker for its shutdown
  auto answer = curl()->send(request);
  REQUIRE_MESSAGE(answer.ok(), answer.error().message);
  CHECK(answer->body == "via proxy");
  std::lock_guard lock(mutex);
  CHECK(proxied_target == "http://perdiem-proxy-test.invalid/v1/models");
}

TEST_CASE("retry_after reads seconds, an HTTP-date and retry-after-ms") {
  const auto now = std::chrono::system_clock::now();
  CHECK(http::retry_after(with_headers({{"retry-after", "7"}}), now) == 7000ms);
  CHECK(http::retry_after(with_headers({{"retry-after", "0"}}), now) == 0ms);
  CHECK(http::retry_after(with_headers({{"retry-after-ms", "1500"}, {"retry-after", "9"}}), now) ==
        1500ms);
  CHECK(http::retry_after(with_headers({{"retry-after-ms", "2.5"}}), now) == 3ms);
  // A broken retry-after-ms falls back to retry-after.
  CHECK(http::retry_after(with_headers({{"retry-after-ms", "soon"}, {"retry-after", "4"}}), now) ==
        4000ms);

  const auto later = http::retry_after(with_headers({{"retry-after", http_date(now + 120s)}}), now);
  REQUIRE(later.has_value());
  CHECK(*later > 118s);
  CHECK(*later <= 120s);
  CHECK(http::retry_after(with_headers({{"retry-after", http_date(now - 60s)}}), now) == 0ms);

  CHECK(http::retry_after(with_headers({{"retry-after", "99999999999999999999"}}), now) ==
        http::kMaxRetryAfter);
  for (const char* bad : {"", "-5", "1.5", "soon", "7 seconds", "Someday, 99 Foo 2020"}) {
    CAPTURE(bad);
    CHECK_FALSE(http::retry_after(with_headers({{"retry-after", bad}}), now).has_value());
  }
  CHECK_FALSE(http::retry_after(with_headers({}), now).has_value());
}

TEST_CASE("an exception from a body callback leaves send() and the thread's handle usable") {
  LoopbackServer server([](httplib::Server& s) {
    s.Get("/data", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(3000, 'd'), "application/octet-stream");
    });
  });
  http::Request throwing = get(server.origin() + "/data");
  throwing.on_body_chunk = [](std::string_view) -> bool {
    throw std::runtime_error("the plan raised");
  };
  CHECK_THROWS_WITH_AS(curl()->send(throwing), "the plan raised", std::runtime_error);
  auto again = curl()->send(get(server.origin() + "/data"));
  REQUIRE(again.ok());
  CHECK(again->body.size() == 3000);
}
