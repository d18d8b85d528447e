#include "runtime/providers/mock_server.hpp"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/sim_provider.hpp"

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

  std::uint64_t requests_served() const override { return served_.load(); }

  void wait() override {
    std::unique_lock lock(mutex_);
    stopped_cv_.wait(lock, [this] { return stopped_; });
  }

  void stop() override {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
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
    return req.get_header_value("Authorization") == "Bearer " + options_.required_key;
  }

  void complete(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) {
      // Never echo the header: it may hold someone's real key.
      send_error(res, 401, "Incorrect API key provided.", "invalid_request_error",
                 "invalid_api_key");
      return;
    }
    Result<WireChatRequest> wire = decode_chat_request(req.body);
    if (!wire) {
      send_error(res, 400, wire.error().message, "invalid_request_error");
      return;
    }
    if (wire->stream) {
      send_error(res, 400, "streaming not supported by the mock provider yet",
                 "invalid_request_error", "stream_not_supported");
      return;
    }
    const ChatResponse reply = sim_reply(wire->request, options_.seed);
    const std::uint64_t n = served_.fetch_add(1) + 1;
    res.set_content(encode_chat_response(reply, completion_id(options_.seed, n),
                                         static_cast<std::int64_t>(std::time(nullptr))),
                    kJson);
  }

  void embed(const httplib::Request& req, httplib::Response& res) {
    if (!authorized(req)) {
      send_error(res, 401, "Incorrect API key provided.", "invalid_request_error",
                 "invalid_api_key");
      return;
    }
    Result<EmbedRequest> request = decode_embed_request(req.body);
    if (!request) {
      send_error(res, 400, request.error().message, "invalid_request_error");
      return;
    }
    served_.fetch_add(1);
    res.set_content(encode_embed_response(sim_embed(*request)), kJson);
  }

  const MockProviderOptions options_;
  httplib::Server server_;
  std::thread thread_;
  std::atomic<bool> loop_exited_{false};
  std::uint16_t port_ = 0;
  std::atomic<std::uint64_t> served_{0};
  std::mutex mutex_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;
};

}  // namespace

Result<std::unique_ptr<MockServer>> MockServer::start(const MockProviderOptions& options) {
  auto server = std::make_unique<MockServerImpl>(options);
  if (Status status = server->listen(); !status.ok()) return status.error();
  return std::unique_ptr<MockServer>(std::move(server));
}

}  // namespace perdiem::providers
