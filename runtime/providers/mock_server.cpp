#include "runtime/providers/mock_server.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/providers/anthropic_codec.hpp"
#include "runtime/providers/anthropic_stream.hpp"
#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/mock_answer.hpp"
#include "runtime/providers/mock_scenario.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/sim_provider.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers {

namespace {

constexpr std::size_t kMaxRequestBytes = 8u << 20;
constexpr auto kStartupDeadline = std::chrono::seconds(5);
constexpr const char* kJson = "application/json";

void send_error(httplib::Response& res, int status, std::string_view message, std::string_view type,
                std::string_view code = {}) {
  res.status = status;
  res.set_content(encode_error_body(message, type, code), kJson);
}

// A completion id that differs per request yet is reproducible for a seed.
std::string completion_id(std::uint64_t seed, std::uint64_t n) {
  std::uint64_t h = seed * 0x9E3779B97F4A7C15ull ^ (n + 0x632BE59BD9B4E019ull);
  h ^= h >> 31;
  h *= 0xBF58476D1CE4E5B9ull;
  h ^= h >> 29;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "chatcmpl-sim-";
  for (int shift = 60; shift >= 0; shift -= 4) id += kHex[(h >> shift) & 0xF];
  return id;
}

enum class Wire { openai, anthropic };

class MockServerImpl final : public MockServer {
 public:
  explicit MockServerImpl(MockProviderOptions options) : options_(std::move(options)) {}
  ~MockServerImpl() override { stop(); }

  Status listen() {
    routes();
    server_.set_payload_max_length(kMaxRequestBytes);
    server_.set_keep_alive_timeout(1);
    // httplib's default sets SO_REUSEPORT, which lets a second server share a port that
    // is in use instead of failing. SO_REUSEADDR alone still allows a quick restart on a
    // port left in TIME_WAIT.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    int port = options_.port;
    if (port == 0) {
      port = server_.bind_to_any_port(options_.host);
    } else if (!server_.bind_to_port(options_.host, port)) {
      port = -1;
    }
    if (port <= 0) {
      return make_error(ErrorKind::transport,
                        "the mock provider cannot listen on " + options_.host + ":" +
                            std::to_string(options_.port) +
                            ": the port is taken or the address is not available",
                        "mock-provider");
    }
    port_ = static_cast<std::uint16_t>(port);
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      loop_exited_ = true;
    });
    // httplib's stop() is a no-op until the accept loop has started, so return only
    // once it runs; otherwise a quick stop() would leave the thread serving forever.
    const auto deadline = std::chrono::steady_clock::now() + kStartupDeadline;
    while (!server_.is_running()) {
      if (loop_exited_ || std::chrono::steady_clock::now() > deadline) {
        stop();
        return make_error(ErrorKind::transport, "the mock provider's server loop did not start",
                          "mock-provider");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Status::success();
  }

  std::uint16_t port() const override { return port_; }

  std::string base_url() const override {
    const bool ipv6 = options_.host.find(':') != std::string::npos;
    const std::string host = ipv6 ? "[" + options_.host + "]" : options_.host;
    return "http://" + host + ":" + std::to_string(port_) + "/v1";
  }

  std::uint64_t requests_served() const override { return received_.load(); }

  std::uint64_t requests_with_status(int status) const override {
    std::lock_guard lock(counts_mutex_);
    const auto found = by_status_.find(status);
    return found == by_status_.end() ? 0 : found->second;
  }

  void wait() override {
    std::unique_lock lock(mutex_);
    stopped_cv_.wait(lock, [this] { return stopped_; });
  }

  void stop() override {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    {
      // Wake requests waiting out a latency or a drip, so the server stops promptly.
      std::lock_guard pause_lock(pause_mutex_);
      stopping_ = true;
    }
    pause_cv_.notify_all();
    server_.stop();
    if (thread_.joinable()) thread_.join();
    stopped_ = true;
    stopped_cv_.notify_all();
  }

 private:
  void routes() {
    auto chat = [this](const httplib::Request& req, httplib::Response& res) { complete(req, res); };
    auto models = [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"sim-1","object":"model","created":0,)"
                      R"("owned_by":"perdiem"}]})",
                      kJson);
    };
    server_.Post("/v1/chat/completions", chat);
    server_.Post("/chat/completions", chat);
    auto messages = [this](const httplib::Request& req, httplib::Response& res) {
      messages_api(req, res);
    };
    server_.Post("/v1/messages", messages);
    server_.Post("/messages", messages);
    auto embeddings = [this](const httplib::Request& req, httplib::Response& res) {
      embed(req, res);
    };
    server_.Post("/v1/embeddings", embeddings);
    server_.Post("/embeddings", embeddings);
    server_.Get("/v1/models", models);
    server_.Get("/models", models);
    // httplib calls this for every status >= 400; only fill bodies routes left empty.
    server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404) {
        send_error(res, 404, "no route for " + req.method + " " + req.path, "invalid_request_error",
                   "not_found");
      } else {
        send_error(res, res.status, "the request could not be served", "invalid_request_error");
      }
    });
  }

  bool authorized(const httplib::Request& req) const {
    if (options_.required_key.empty()) return true;
    return req.get_header_value("Authorization") == "Bearer " + options_.required_key ||
           req.get_header_value("x-api-key") == options_.required_key;
  }

  // Waits `delay` unless the server is stopping; false when it is.
  bool pause(std::chrono::milliseconds delay) {
    std::unique_lock lock(pause_mutex_);
    return !pause_cv_.wait_for(lock, delay, [this] { return stopping_; });
  }

  void count(int status) {
    std::lock_guard lock(counts_mutex_);
    ++by_status_[status];
  }

  // The faults for the next model request: waits out its latency, then answers with its
  // failure status if it has one. True when the request was answered here.
  bool injected_fault(httplib::Response& res, Wire wire) {
    const mock::FaultDecision fault = mock::decide(options_, faulted_.fetch_add(1) + 1);
    if (fault.latency.count() > 0 && !pause(fault.latency)) {
      fail(res, 503, "the mock provider is stopping", wire);
      return true;
    }
    if (!fault.fail_status) return false;
    const int status = *fault.fail_status;
    if (options_.retry_after_seconds) {
      res.set_header("Retry-After", std::to_string(*options_.retry_after_seconds));
    }
    fail(res, status,
         status == 429 ? "Rate limit reached (injected by the mock provider)"
                       : "Injected failure (mock provider scenario)",
         wire);
    return true;
  }

  void fail(httplib::Response& res, int status, std::string_view message, Wire wire,
            std::string_view code = {}) {
    if (wire == Wire::anthropic) {
      res.status = status;
      res.set_content(encode_anthropic_error_body(mock::anthropic_error_type(status), message),
                      kJson);
    } else {
      send_error(res, status, message,
                 status == 429   ? "rate_limit_exceeded"
                 : status >= 500 ? "server_error"
                                 : "invalid_request_error",
                 code);
    }
    count(status);
  }

  void complete(const httplib::Request& req, httplib::Response& res) {
    received_.fetch_add(1);
    if (!authorized(req)) {
      // Never echo the header: it may hold someone's real key.
      fail(res, 401, "Incorrect API key provided.", Wire::openai, "invalid_api_key");
      return;
    }
    Result<WireChatRequest> wire = decode_chat_request(req.body);
    if (!wire) {
      fail(res, 400, wire.error().message, Wire::openai);
      return;
    }
    if (injected_fault(res, Wire::openai)) return;
    const ChatResponse reply = sim_reply(wire->request, options_.seed);
    const std::string id = completion_id(options_.seed, replies_.fetch_add(1) + 1);
    const auto created = static_cast<std::int64_t>(std::time(nullptr));
    if (wire->stream) {
      mock::stream(res, mock::openai_events(reply, id, created, include_usage(req.body)), options_,
                   [this](std::chrono::milliseconds d) { return pause(d); });
    } else {
      mock::answer(res, encode_chat_response(reply, id, created), kJson, options_);
    }
    count(res.status);
  }

  // stream_options.include_usage, which asks for a last chunk with the usage.
  static bool include_usage(std::string_view body) {
    const std::optional<wire::Json> doc = wire::parse(body);
    if (!doc) return false;
    const wire::Json* options = wire::member(*doc, "stream_options");
    const wire::Json* include = options ? wire::member(*options, "include_usage") : nullptr;
    return include != nullptr && include->is_boolean() && include->get<bool>();
  }

  void messages_api(const httplib::Request& req, httplib::Response& res) {
    received_.fetch_add(1);
    if (!authorized(req)) {
      fail(res, 401, "invalid x-api-key", Wire::anthropic);
      return;
    }
    Result<WireChatRequest> wire = mock::decode_anthropic_request(req.body);
    if (!wire) {
      fail(res, 400, wire.error().message, Wire::anthropic);
      return;
    }
    if (injected_fault(res, Wire::anthropic)) return;
    const ChatResponse reply = sim_reply(wire->request, options_.seed);
    std::string id = completion_id(options_.seed, replies_.fetch_add(1) + 1);
    id.replace(0, std::string_view("chatcmpl-").size(), "msg_");
    if (wire->stream) {
      mock::stream(res, encode_anthropic_stream(reply, id), options_,
                   [this](std::chrono::milliseconds d) { return pause(d); });
    } else {
      mock::answer(res, encode_anthropic_response(reply, id), kJson, options_);
    }
    count(res.status);
  }

  void embed(const httplib::Request& req, httplib::Response& res) {
    received_.fetch_add(1);
    if (!authorized(req)) {
      fail(res, 401, "Incorrect API key provided.", Wire::openai, "invalid_api_key");
      return;
    }
    Result<EmbedRequest> request = decode_embed_request(req.body);
    if (!request) {
      fail(res, 400, request.error().message, Wire::openai);
      return;
    }
    if (injected_fault(res, Wire::openai)) return;
    mock::answer(res, encode_embed_response(sim_embed(*request)), kJson, options_);
    count(res.status);
  }

  const MockProviderOptions options_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> loop_exited_{false};
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> received_{0};  // model requests, whatever their answer
  std::atomic<std::uint64_t> faulted_{0};   // model requests that reached the faults
  std::atomic<std::uint64_t> replies_{0};   // answers built, for their ids
  mutable std::mutex counts_mutex_;
  std::map<int, std::uint64_t> by_status_;  // guarded by counts_mutex_
  std::mutex pause_mutex_;
  std::condition_variable pause_cv_;
  bool stopping_ = false;  // guarded by pause_mutex_
  std::mutex mutex_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<MockServer>> MockServer::start(const MockProviderOptions& options) {
  if (Status valid = mock::validate(options); !valid.ok()) return valid.error();
  auto server = std::make_unique<MockServerImpl>(options);
  if (Status status = server->listen(); !status.ok()) return status.error();
  return std::unique_ptr<MockServer>(std::move(server));
}

}  // namespace perdiem::providers
