// The mock provider's faults over loopback, seen by a plain HTTP client: failure
// statuses and Retry-After, seeded error rates, latency, and broken bodies.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "mock_fixture.hpp"
#include "runtime/providers/mock_scenario.hpp"
#include "runtime/providers/openai_codec.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace perdiem::providers::testing;
using namespace std::chrono_literals;

namespace {

constexpr const char* kChat = "/v1/chat/completions";

nlohmann::json parse(const std::string& body) {
  return nlohmann::json::parse(body);
}

// The 1-based numbers of the requests among `count` that failed.
std::set<int> failures_of(const MockProviderOptions& options, int count) {
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  std::set<int> failed;
  for (int i = 1; i <= count; ++i) {
    auto res = client.Post(kChat, chat_body("hi"), "application/json");
    REQUIRE(res);
    if (res->status != 200) failed.insert(i);
  }
  return failed;
}

}  // namespace

TEST_CASE("fail_first fails exactly the first N requests with 429 and Retry-After") {
  MockProviderOptions options;
  options.fail_first = 2;
  options.fail_status = 429;
  options.retry_after_seconds = 3;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  for (int i = 0; i < 2; ++i) {
    auto res = client.Post(kChat, chat_body("hi"), "application/json");
    REQUIRE(res);
    CHECK(res->status == 429);
    CHECK(res->get_header_value("Retry-After") == "3");
    // An OpenAI error body the adapters decode as rate_limited.
    CHECK(parse(res->body)["error"]["message"].is_string());
    Result<ChatResponse> decoded = decode_chat_response(res->status, res->body, "mock");
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().kind == ErrorKind::rate_limited);
  }
  auto ok =
      client.Post(kChat, chat_body("reply with exactly: third time lucky"), "application/json");
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK_FALSE(ok->has_header("Retry-After"));
  CHECK(parse(ok->body)["choices"][0]["message"]["content"] == "third time lucky");
  CHECK(server->requests_served() == 3);
  CHECK(server->requests_with_status(429) == 2);
  CHECK(server->requests_with_status(200) == 1);
}

TEST_CASE("the failure status is the one configured, and Retry-After only when asked") {
  for (int status : {500, 503, 502}) {
    CAPTURE(status);
    MockProviderOptions options;
    options.fail_first = 1;
    options.fail_status = status;
    auto server = start_mock(options);
    httplib::Client client = client_for(*server);
    auto res = client.Post(kChat, chat_body("hi"), "application/json");
    REQUIRE(res);
    CHECK(res->status == status);
    CHECK_FALSE(res->has_header("Retry-After"));
    Result<ChatResponse> decoded = decode_chat_response(res->status, res->body, "mock");
    REQUIRE_FALSE(decoded.ok());
    CHECK(decoded.error().retryable);
    CHECK(server->requests_with_status(status) == 1);
  }
}

TEST_CASE("requests refused before the faults count as received, with their status") {
  MockProviderOptions options;
  options.fail_first = 1;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  auto bad = client.Post(kChat, "{not json", "application/json");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  // The undecodable request did not use up the injected failure.
  auto first = client.Post(kChat, chat_body("hi"), "application/json");
  REQUIRE(first);
  CHECK(first->status == 500);
  CHECK(server->requests_served() == 2);
  CHECK(server->requests_with_status(400) == 1);
  CHECK(server->requests_with_status(500) == 1);
}

TEST_CASE("a seeded error rate fails the same requests every run, and about that often") {
  MockProviderOptions options;
  options.error_rate = 0.5;
  options.seed = 7;
  const std::set<int> first = failures_of(options, 40);
  const std::set<int> again = failures_of(options, 40);
  CHECK(first == again);
  // Loose bounds: 40 fair coin flips land outside 8..32 with odds below one in 10^4.
  CHECK(first.size() >= 8);
  CHECK(first.size() <= 32);
  options.seed = 8;
  CHECK(failures_of(options, 40) != first);
  options.error_rate = 0.0;
  CHECK(failures_of(options, 10).empty());
  options.error_rate = 1.0;
  CHECK(failures_of(options, 10).size() == 10);
}

TEST_CASE("latency delays each answer; jitter adds a seeded amount within its bound") {
  MockProviderOptions options;
  options.latency = 120ms;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  auto started = std::chrono::steady_clock::now();
  auto res = client.Post(kChat, chat_body("hi"), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(std::chrono::steady_clock::now() - started >= 120ms);

  // The decisions themselves: jitter within [latency, latency + jitter], reproducible,
  // and not the same for every request.
  options.latency_jitter = 80ms;
  std::set<std::int64_t> seen;
  for (std::uint64_t n = 1; n <= 50; ++n) {
    const auto d = mock::decide(options, n);
    CHECK(d.latency >= 120ms);
    CHECK(d.latency <= 200ms);
    CHECK(d.latency == mock::decide(options, n).latency);
    seen.insert(d.latency.count());
  }
  CHECK(seen.size() > 10);
}

TEST_CASE("stopping the server does not wait out a long latency") {
  MockProviderOptions options;
  options.latency = 30s;
  auto server = start_mock(options);
  std::thread caller([&] {
    httplib::Client client = client_for(*server);
    (void)client.Post(kChat, chat_body("hi"), "application/json");
  });
  while (server->requests_served() == 0) std::this_thread::sleep_for(1ms);
  const auto started = std::chrono::steady_clock::now();
  server->stop();
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  caller.join();
}

TEST_CASE("malformed_json answers 200 with a JSON body cut short") {
  MockProviderOptions options;
  options.malformed_json = true;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  auto res = client.Post(kChat, chat_body("hi"), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/json");
  CHECK_FALSE(res->body.empty());
  CHECK_FALSE(nlohmann::json::accept(res->body));
  Result<ChatResponse> decoded = decode_chat_response(res->status, res->body, "mock");
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().kind == ErrorKind::bad_response);
}

TEST_CASE("wrong_content_type answers 200 with an HTML page") {
  MockProviderOptions options;
  options.wrong_content_type = true;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  for (bool stream : {false, true}) {
    auto res = client.Post(kChat, chat_body("hi", stream), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->get_header_value("Content-Type").starts_with("text/html"));
    CHECK(res->body.find("<html>") != std::string::npos);
  }
}

TEST_CASE("oversized_body pads the answer to the size asked, still valid JSON") {
  MockProviderOptions options;
  options.oversized_body_bytes = 300'000;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  auto res = client.Post(kChat, chat_body("reply with exactly: big"), "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->body.size() == 300'000);
  CHECK(parse(res->body)["choices"][0]["message"]["content"] == "big");
}

TEST_CASE("a scenario file sets the same options by name") {
  auto read = mock::scenario_from_json(
      R"({"fail_first": 2, "fail_status": 429, "retry_after_seconds": 1, "latency_ms": 50,
          "latency_jitter_ms": 10, "error_rate": 0.25, "malformed_json": true,
          "wrong_content_type": false, "oversized_body_bytes": 4096, "cut_after_chunks": 3,
          "chunk_delay_ms": 20, "seed": 9})",
      MockProviderOptions{});
  REQUIRE_MESSAGE(read.ok(), (read.ok() ? "" : read.error().message));
  const MockProviderOptions& o = read.value();
  CHECK(o.fail_first == 2);
  CHECK(o.fail_status == 429);
  CHECK(o.retry_after_seconds == 1);
  CHECK(o.latency == 50ms);
  CHECK(o.latency_jitter == 10ms);
  CHECK(o.error_rate == doctest::Approx(0.25));
  CHECK(o.malformed_json);
  CHECK_FALSE(o.wrong_content_type);
  CHECK(o.oversized_body_bytes == 4096);
  CHECK(o.cut_after_chunks == 3u);
  CHECK(o.chunk_delay == 20ms);
  CHECK(o.seed == 9);

  // Members it does not name keep the base's values.
  MockProviderOptions base;
  base.port = 8080;
  base.latency = 5ms;
  auto partial = mock::scenario_from_json(R"({"fail_first": 1})", base);
  REQUIRE(partial.ok());
  CHECK(partial.value().port == 8080);
  CHECK(partial.value().latency == 5ms);
  CHECK(partial.value().fail_first == 1);
}

TEST_CASE("a bad scenario is refused naming the member at fault") {
  struct Case {
    const char* json;
    const char* names;
  };
  for (const Case& c :
       {Case{R"({"fail_frist": 2})", "fail_frist"}, Case{R"({"fail_status": 200})", "fail_status"},
        Case{R"({"error_rate": 1.5})", "error_rate"}, Case{R"({"latency_ms": -1})", "latency_ms"},
        Case{R"({"malformed_json": "yes"})", "malformed_json"}, Case{R"([1, 2])", "JSON object"}}) {
    CAPTURE(c.json);
    auto read = mock::scenario_from_json(c.json, MockProviderOptions{});
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().kind == ErrorKind::invalid_argument);
    CHECK(read.error().message.find(c.names) != std::string::npos);
  }
}

TEST_CASE("options out of range keep the server from starting") {
  MockProviderOptions options;
  options.error_rate = 2.0;
  auto server = MockServer::start(options);
  REQUIRE_FALSE(server.ok());
  CHECK(server.error().kind == ErrorKind::invalid_argument);
  options.error_rate = 0.0;
  options.fail_status = 200;
  CHECK_FALSE(MockServer::start(options).ok());
}

TEST_CASE("embeddings requests get the same faults and count the same way") {
  MockProviderOptions options;
  options.fail_first = 1;
  options.fail_status = 503;
  auto server = start_mock(options);
  httplib::Client client = client_for(*server);
  const std::string body = R"({"model":"sim-embed","input":["hello"]})";
  auto first = client.Post("/v1/embeddings", body, "application/json");
  REQUIRE(first);
  CHECK(first->status == 503);
  auto second = client.Post("/v1/embeddings", body, "application/json");
  REQUIRE(second);
  CHECK(second->status == 200);
  CHECK(parse(second->body)["data"][0]["embedding"].size() > 0);
  CHECK(server->requests_served() == 2);
}
