// The OpenAI-compatible provider over real HTTP on loopback: the mock server, custom
// httplib servers that misbehave on purpose, and the libcurl transport.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "runtime/http/curl_transport.hpp"
#include "runtime/providers/mock_server.hpp"
#include "runtime/providers/openai_provider.hpp"
#include "runtime/providers/provider_config.hpp"
#include "runtime/providers/sim_provider.hpp"

using namespace perdiem;
using namespace perdiem::providers;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "sk-test-7f3a9c1e5b2d4f60a8e7c6b5a4d3e2f1";

std::shared_ptr<http::Transport> curl() {
  static std::shared_ptr<http::Transport> transport = http::make_curl_transport();
  return transport;
}

MockProviderOptions options(std::uint64_t seed, std::string required_key = {}) {
  MockProviderOptions result;
  result.seed = seed;
  result.required_key = std::move(required_key);
  return result;
}

std::unique_ptr<MockServer> start_mock(MockProviderOptions options = {}) {
  auto server = MockServer::start(options);
  REQUIRE_MESSAGE(server.ok(), server.error().message);
  return std::move(server).value();
}

std::unique_ptr<Provider> provider_for(const std::string& base_url, const std::string& key = "",
                                       std::chrono::milliseconds timeout = 10s,
                                       std::size_t max_bytes = 16u << 20) {
  OpenAiProviderConfig config;
  config.name = "loopback";
  config.base_url = base_url;
  config.api_key = base::SecureBuffer::from_string(key);
  config.key_env = "LOOPBACK_API_KEY";
  config.default_model = "sim-1";
  config.timeout = timeout;
  config.max_response_bytes = max_bytes;
  return make_openai_provider(std::move(config), curl());
}

ChatRequest ask(std::string text) {
  ChatRequest request;
  request.model = "sim-1";
  request.messages = {{"user", std::move(text)}};
  return request;
}

// An httplib server on a free loopback port, serving whatever a test installs.
class TestServer {
 public:
  explicit TestServer(const std::function<void(httplib::Server&)>& install) {
    install(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// Answers every chat completion with `status` and `body`.
TestServer fixed_answer(int status, std::string body) {
  return TestServer([status, body = std::move(body)](httplib::Server& server) {
    server.Post("/v1/chat/completions",
                [status, body](const httplib::Request&, httplib::Response& res) {
                  res.status = status;
                  res.set_content(body, "application/json");
                });
  });
}

// A loopback port that refuses connections: bound, never listening, held until the end
// of the test so no one else can take it.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

Result<http::Response> raw(const std::string& method, const std::string& url, std::string body = {},
                           const std::string& key = {}) {
  http::Request request;
  request.method = method;
  request.url = url;
  request.body = std::move(body);
  request.headers = {{"Content-Type", "application/json"}};
  auto token = base::SecureBuffer::from_string(key);
  if (!key.empty()) request.bearer_token = &token;
  return curl()->send(request);
}

}  // namespace

TEST_CASE("a chat round trip through the mock server matches the sim") {
  auto server = start_mock(options(5));
  auto provider = provider_for(server->base_url());
  const ChatRequest request = ask("hello over HTTP");
  auto reply = provider->chat(request);
  REQUIRE_MESSAGE(reply.ok(), reply.error().message);
  const ChatResponse expected = sim_reply(request, 5);
  CHECK(reply->content == expected.content);
  CHECK(reply->model == "sim-1");
  CHECK(reply->provider == "loopback");
  CHECK(reply->finish_reason == "stop");
  CHECK(reply->usage.input_tokens == expected.usage.input_tokens);
  CHECK(reply->usage.output_tokens == expected.usage.output_tokens);
  CHECK(server->requests_served() == 1);
}

TEST_CASE("the mock server's base URL is loopback and serves max_tokens and no /v1") {
  auto server = start_mock();
  CHECK(server->base_url() == "http://127.0.0.1:" + std::to_string(server->port()) + "/v1");
  ChatRequest request = ask("reply with exactly: " + std::string(40, 'q'));
  request.max_tokens = 2;
  auto provider = provider_for("http://127.0.0.1:" + std::to_string(server->port()) + "/");
  auto reply = provider->chat(request);
  REQUIRE_MESSAGE(reply.ok(), reply.error().message);
  CHECK(reply->content == std::string(8, 'q'));
  CHECK(reply->finish_reason == "length");
}

TEST_CASE("a request without a model gets the provider's default") {
  auto server = start_mock();
  ChatRequest request = ask("hi");
  request.model.clear();
  auto reply = provider_for(server->base_url())->chat(request);
  REQUIRE(reply.ok());
  CHECK(reply->model == "sim-1");
}

TEST_CASE("the mock server checks the required key") {
  auto server = start_mock(options(1, kKey));
  auto good = provider_for(server->base_url(), kKey)->chat(ask("hi"));
  CHECK_MESSAGE(good.ok(), (good.ok() ? std::string() : good.error().message));

  auto wrong = provider_for(server->base_url(), "sk-wrong")->chat(ask("hi"));
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.error().kind == ErrorKind::auth);
  CHECK(wrong.error().source == "loopback");
  CHECK(wrong.error().message.find("check the API key in LOOPBACK_API_KEY") != std::string::npos);
  CHECK(wrong.error().message.find("sk-wrong") == std::string::npos);

  auto none = provider_for(server->base_url())->chat(ask("hi"));
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().kind == ErrorKind::auth);
  CHECK(none.error().message.find("no API key was sent") != std::string::npos);
  CHECK(server->requests_served() == 3);  // every request received counts
  CHECK(server->requests_with_status(200) == 1);
  CHECK(server->requests_with_status(401) == 2);
}

TEST_CASE("the API key never appears in an error, even when the server echoes it") {
  for (int status : {401, 400, 500, 429, 200}) {
    CAPTURE(status);
    TestServer echo([status](httplib::Server& server) {
      server.Post("/v1/chat/completions", [status](const httplib::Request& req,
                                                   httplib::Response& res) {
        const std::string auth = req.get_header_value("Authorization");
        // The key sits past the quoting limit's edge, so a cut could leave half of it.
        const std::string padding(185, '.');
        res.status = status;
        res.set_content(
            nlohmann::json{{"error", {{"message", padding + "you sent " + auth}, {"detail", auth}}}}
                .dump(),
            "application/json");
      });
    });
    auto reply = provider_for(echo.base_url(), kKey)->chat(ask("hi"));
    REQUIRE_FALSE(reply.ok());
    const std::string key = kKey;
    CHECK(reply.error().message.find(key) == std::string::npos);
    CHECK(reply.error().message.find(key.substr(0, 12)) == std::string::npos);
    CHECK(reply.error().source.find(key) == std::string::npos);
  }
}

TEST_CASE("HTTP 429 and 500 map to rate_limited and provider, both retryable") {
  auto limited = fixed_answer(429, R"({"error":{"message":"Rate limit reached"}})");
  auto reply = provider_for(limited.base_url())->chat(ask("hi"));
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::rate_limited);
  CHECK(reply.error().retryable);
  CHECK(reply.error().message.find("Rate limit reached") != std::string::npos);

  auto broken = fixed_answer(500, R"({"error":{"message":"internal oops"}})");
  auto failed = provider_for(broken.base_url())->chat(ask("hi"));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().kind == ErrorKind::provider);
  CHECK(failed.error().retryable);
  CHECK(failed.error().source == "loopback");
}

TEST_CASE("a refused connection is a transport error naming the URL") {
  RefusingPort port;
  const std::string base = "http://127.0.0.1:" + std::to_string(port.port()) + "/v1";
  auto reply = provider_for(base, kKey)->chat(ask("hi"));
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::transport);
  CHECK(reply.error().retryable);
  CHECK(reply.error().source == "loopback");
  CHECK(reply.error().message.find(base + "/chat/completions") != std::string::npos);
  CHECK(reply.error().message.find(kKey) == std::string::npos);
}

TEST_CASE("a server slower than the timeout gives a timeout error") {
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  TestServer slow([&](httplib::Server& server) {
    server.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex);
      released_cv.wait_for(lock, 5s, [&] { return released; });
      res.set_content("{}", "application/json");
    });
  });
  const auto started = std::chrono::steady_clock::now();
  auto reply = provider_for(slow.base_url(), "", 200ms)->chat(ask("hi"));
  const auto elapsed = std::chrono::steady_clock::now() - started;
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  released_cv.notify_all();
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::timeout);
  CHECK(reply.error().source == "loopback");
  CHECK(elapsed < 3s);
}

TEST_CASE("a call its run abandons ends within about a second with kind cancelled") {
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  TestServer slow([&](httplib::Server& server) {
    server.Post("/v1/chat/completions", [&](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex);
      released_cv.wait_for(lock, 20s, [&] { return released; });
      res.set_content("{}", "application/json");
    });
  });
  std::atomic<bool> abandon{false};
  std::thread canceller([&abandon] {
    std::this_thread::sleep_for(200ms);
    abandon = true;  // as Ctrl-C sets the run's cancel flag
  });
  ChatCall call;
  call.abandon = &abandon;
  const auto started = std::chrono::steady_clock::now();
  auto reply = provider_for(slow.base_url(), "", 30s)->chat_call(ask("hi"), call);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  canceller.join();
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  released_cv.notify_all();
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::cancelled);
  CHECK(reply.error().message.find("abandoned") != std::string::npos);
  CHECK_FALSE(reply.error().retryable);
  CHECK(elapsed < 10s);  // not the server's 20 s, nor the 30 s timeout
}

TEST_CASE("an oversized answer is a bad_response") {
  auto huge = fixed_answer(
      200, R"({"choices":[{"message":{"content":")" + std::string(64 * 1024, 'x') + R"("}}]})");
  auto reply = provider_for(huge.base_url(), "", 10s, 4096)->chat(ask("hi"));
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::bad_response);
  CHECK(reply.error().source == "loopback");
}

TEST_CASE("a 200 that is not JSON is a bad_response") {
  auto garbage = fixed_answer(200, "<html>proxy login</html>");
  auto reply = provider_for(garbage.base_url())->chat(ask("hi"));
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.error().kind == ErrorKind::bad_response);
}

TEST_CASE("the mock server answers bad JSON and unknown routes with errors") {
  auto server = start_mock();
  const std::string url = server->base_url() + "/chat/completions";

  auto bad = raw("POST", url, "{not json");
  REQUIRE(bad.ok());
  CHECK(bad->status == 400);
  CHECK(nlohmann::json::parse(bad->body)["error"]["message"].is_string());

  auto bad_stream = raw("POST", url, R"({"model":"sim-1","stream":"yes","messages":[]})");
  REQUIRE(bad_stream.ok());
  CHECK(bad_stream->status == 400);
  CHECK(nlohmann::json::parse(bad_stream->body)["error"]["message"] == "'stream' must be a boolean");

  auto missing = raw("GET", server->base_url() + "/nothing-here");
  REQUIRE(missing.ok());
  CHECK(missing->status == 404);
  CHECK(nlohmann::json::parse(missing->body).contains("error"));
  // The two refused chat requests count as received; the unknown route does not.
  CHECK(server->requests_served() == 2);
  CHECK(server->requests_with_status(400) == 2);
  CHECK(server->requests_with_status(200) == 0);
}

TEST_CASE("the mock server lists sim-1 under /v1/models") {
  auto server = start_mock();
  auto models = raw("GET", server->base_url() + "/models");
  REQUIRE(models.ok());
  CHECK(models->status == 200);
  const auto doc = nlohmann::json::parse(models->body);
  CHECK(doc["object"] == "list");
  CHECK(doc["data"][0]["id"] == "sim-1");
}

TEST_CASE("the mock server answers a raw OpenAI request in full") {
  auto server = start_mock();
  auto answer = raw("POST", server->base_url() + "/chat/completions",
                    R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  REQUIRE(answer.ok());
  CHECK(answer->status == 200);
  CHECK(answer->header("content-type").starts_with("application/json"));
  const auto doc = nlohmann::json::parse(answer->body);
  CHECK(doc["id"].get<std::string>().starts_with("chatcmpl-"));
  CHECK(doc["object"] == "chat.completion");
  CHECK(doc["created"].is_number_integer());
  CHECK(doc["model"] == "m");
  CHECK(doc["choices"][0]["message"]["role"] == "assistant");
  CHECK(doc["choices"][0]["finish_reason"] == "stop");
  CHECK(doc["usage"]["total_tokens"] ==
        doc["usage"]["prompt_tokens"].get<int>() + doc["usage"]["completion_tokens"].get<int>());
}

// httplib sets SO_REUSEPORT by default, which let a second server share a busy port.
TEST_CASE("the mock server fails with transport when its port is taken") {
  auto first = start_mock();
  MockProviderOptions options;
  options.port = first->port();
  auto second = MockServer::start(options);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().kind == ErrorKind::transport);
  CHECK(second.error().message.find(std::to_string(first->port())) != std::string::npos);
}

TEST_CASE("the mock server can be started on a chosen port") {
  int port = 0;
  {
    auto probe = start_mock();
    port = probe->port();
  }
  MockProviderOptions options;
  options.port = static_cast<std::uint16_t>(port);
  auto server = MockServer::start(options);
  // The port was just freed; another process could have taken it in between.
  if (server.ok()) CHECK((*server)->port() == port);
}

TEST_CASE("the mock server starts and stops at once, repeatedly") {
  for (int i = 0; i < 20; ++i) {
    auto server = start_mock();
    server->stop();
    server->stop();  // idempotent
  }
}

TEST_CASE("wait() returns when another thread stops the mock server") {
  auto server = start_mock();
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    server->wait();
    returned = true;
  });
  std::this_thread::sleep_for(20ms);
  CHECK_FALSE(returned.load());
  server->stop();
  waiter.join();
  CHECK(returned.load());
  server->wait();  // already stopped: returns at once
}

TEST_CASE("concurrent chats through one provider all succeed and are counted") {
  auto server = start_mock();
  auto provider = provider_for(server->base_url());
  constexpr int kThreads = 4;
  constexpr int kCallsEach = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCallsEach; ++i) {
        const ChatRequest request = ask("call " + std::to_string(t) + "/" + std::to_string(i));
        auto reply = provider->chat(request);
        if (!reply.ok() || reply->content != sim_reply(request, 1).content) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures.load() == 0);
  CHECK(server->requests_served() == kThreads * kCallsEach);
}

TEST_CASE("resolve_provider and make_provider reach the mock server end to end") {
  auto server = start_mock(options(1, kKey));
  ProviderSettings settings;
  settings.base_url = server->base_url();
  const std::string key = kKey;
  auto choice =
      resolve_provider(settings, [&](const std::string& name) -> std::optional<std::string> {
        if (name == "PERDIEM_API_KEY") return key;
        return std::nullopt;
      });
  REQUIRE(choice.ok());
  CHECK(choice->name == "custom");
  auto provider = make_provider(std::move(choice).value(), curl());
  ChatRequest request = ask("reply with exactly: wired");
  request.model.clear();
  auto reply = provider->chat(request);
  REQUIRE_MESSAGE(reply.ok(), reply.error().message);
  CHECK(reply->content == "wired");
  CHECK(reply->provider == "custom");
}
