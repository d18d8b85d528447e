// http.fetch against a cpp-httplib server on 127.0.0.1: the allow-list, redirects
// re-checked at each hop, size and time caps, POST.
#include "tools/builtin/http_fetch.hpp"

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "tools/executor.hpp"

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;

namespace {

class LocalServer {
 public:
  LocalServer() {
    server_.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hi there", "text/plain");
    });
    server_.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2 << 20, 'x'), "text/plain");
    });
    server_.Get("/chunked-big", [](const httplib::Request&, httplib::Response& res) {
      // No Content-Length: the cap must hold while streaming.
      res.set_chunked_content_provider("text/plain", [](std::size_t, httplib::DataSink& sink) {
        std::string block(64 * 1024, 'y');
        for (int i = 0; i < 64; ++i) {
          if (!sink.write(block.data(), block.size())) return false;
        }
        sink.done();
        return true;
      });
    });
    server_.Get("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      res.set_content("late", "text/plain");
    });
    server_.Get("/to-hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/hello");  // relative: resolved against this URL
    });
    server_.Get("/to-localhost", [this](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("http://localhost:" + std::to_string(port_) + "/hello");
    });
    server_.Get("/to-elsewhere", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("http://evil.example/steal");
    });
    server_.Get("/loop",
                [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/loop"); });
    server_.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.get_header_value("Content-Type") + "|" + req.get_header_value("X-Test") +
                          "|" + req.body,
                      "text/plain");
    });
    server_.Post("/post-redirect", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("/hello", 303);
    });
    server_.Get("/missing", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content("nope", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LocalServer() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

Result<json> fetch(HttpFetchOptions options, const json& args) {
  ToolRegistry registry;
  REQUIRE(registry.add(make_http_fetch_tool(std::move(options))).ok());
  ToolGrants grants;
  grants.allow("http.fetch");
  return ToolExecutor(registry, grants).invoke("http.fetch", args, {});
}

HttpFetchOptions loopback() {
  HttpFetchOptions options;
  options.allowed_hosts = {"127.0.0.1"};
  return options;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("host allow-list matching") {
  std::vector<std::string> allowed = {"Example.com", "*.api.test", "127.0.0.1", "[::1]"};
  CHECK(host_allowed(allowed, "example.com"));
  CHECK(host_allowed(allowed, "EXAMPLE.COM"));
  CHECK_FALSE(host_allowed(allowed, "www.example.com"));
  CHECK(host_allowed(allowed, "v1.api.test"));
  CHECK_FALSE(host_allowed(allowed, "api.test"));
  CHECK_FALSE(host_allowed(allowed, "evilapi.test"));
  CHECK(host_allowed(allowed, "[::1]"));
  CHECK_FALSE(host_allowed(allowed, "127.0.0.2"));
  CHECK_FALSE(host_allowed(allowed, ""));
}

TEST_CASE("GET from an allowed host") {
  LocalServer server;
  auto result = fetch(loopback(), {{"url", server.url("/hello")}});
  REQUIRE(result.ok());
  CHECK((*result)["status"] == 200);
  CHECK((*result)["body"] == "hi there");
  CHECK(contains((*result)["content_type"], "text/plain"));
  CHECK((*result)["redirects"] == 0);
  auto missing = fetch(loopback(), {{"url", server.url("/missing")}});
  REQUIRE(missing.ok());  // an HTTP error status is a result the model can read
  CHECK((*missing)["status"] == 404);
}

TEST_CASE("a host off the allow-list is refused, naming the flag") {
  LocalServer server;
  HttpFetchOptions none;
  auto refused = fetch(none, {{"url", server.url("/hello")}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::tool);
  CHECK(contains(refused.error().message, "host '127.0.0.1'"));
  CHECK(contains(refused.error().message, "--allow-host 127.0.0.1"));
  auto other = fetch(loopback(), {{"url", "http://example.com/"}});
  REQUIRE_FALSE(other.ok());
  CHECK(contains(other.error().message, "--allow-host example.com"));
  // Credentials and queries never reach the message.
  auto secret = fetch(loopback(), {{"url", "http://user:pw@example.com/?key=sk-1"}});
  REQUIRE_FALSE(secret.ok());
  CHECK_FALSE(contains(secret.error().message, "pw"));
  CHECK_FALSE(contains(secret.error().message, "sk-1"));
  CHECK_FALSE(fetch(loopback(), {{"url", "file:///etc/passwd"}}).ok());
  CHECK_FALSE(fetch(loopback(), {{"url", "not a url"}}).ok());
}

TEST_CASE("redirects are followed only to allowed hosts") {
  LocalServer server;
  auto ok = fetch(loopback(), {{"url", server.url("/to-hello")}});
  REQUIRE(ok.ok());
  CHECK((*ok)["body"] == "hi there");
  CHECK((*ok)["redirects"] == 1);
  CHECK((*ok)["url"] == server.url("/hello"));

  // localhost is the same machine, but not on the list: refused before it is contacted.
  auto local = fetch(loopback(), {{"url", server.url("/to-localhost")}});
  REQUIRE_FALSE(local.ok());
  CHECK(contains(local.error().message, "a redirect to host 'localhost'"));
  CHECK(contains(local.error().message, "--allow-host localhost"));

  auto away = fetch(loopback(), {{"url", server.url("/to-elsewhere")}});
  REQUIRE_FALSE(away.ok());
  CHECK(contains(away.error().message, "a redirect to host 'evil.example'"));

  auto loop = fetch(loopback(), {{"url", server.url("/loop")}});
  REQUIRE_FALSE(loop.ok());
  CHECK(contains(loop.error().message, "more than 5 redirects"));
}

TEST_CASE("an oversized response is refused, with or without Content-Length") {
  LocalServer server;
  for (const char* path : {"/big", "/chunked-big"}) {
    CAPTURE(path);
    auto big = fetch(loopback(), {{"url", server.url(path)}});
    REQUIRE_FALSE(big.ok());
    CHECK(contains(big.error().message, "larger than http.fetch's limit of 1048576 bytes"));
  }
}

TEST_CASE("a slow response hits the time cap") {
  LocalServer server;
  HttpFetchOptions options = loopback();
  options.timeout = std::chrono::milliseconds(200);
  auto slow = fetch(options, {{"url", server.url("/slow")}});
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().kind == ErrorKind::timeout);
}

TEST_CASE("POST sends the body and headers; a 303 continues as GET") {
  LocalServer server;
  auto posted = fetch(loopback(), {{"url", server.url("/echo")},
                                   {"method", "POST"},
                                   {"body", "{\"a\":1}"},
                                   {"content_type", "application/json"},
                                   {"headers", {{"X-Test", "yes"}}}});
  REQUIRE(posted.ok());
  CHECK((*posted)["body"] == "application/json|yes|{\"a\":1}");
  auto redirected =
      fetch(loopback(), {{"url", server.url("/post-redirect")}, {"method", "POST"}, {"body", "x"}});
  REQUIRE(redirected.ok());
  CHECK((*redirected)["body"] == "hi there");
  auto smuggle = fetch(loopback(), {{"url", server.url("/echo")},
                                    {"method", "POST"},
                                    {"headers", {{"X-Test", "a\r\nHost: evil"}}}});
  CHECK_FALSE(smuggle.ok());
  auto host = fetch(loopback(), {{"url", server.url("/echo")}, {"headers", {{"Host", "evil"}}}});
  CHECK_FALSE(host.ok());
}
