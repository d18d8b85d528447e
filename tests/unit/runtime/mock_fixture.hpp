// Helpers for the mock provider's tests: start a server with some faults, and talk to it
// with a plain httplib client (no perdiem adapter in between), reading streams as they
// arrive.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/http/sse.hpp"
#include "runtime/providers/mock_server.hpp"

namespace perdiem::providers::testing {

inline std::unique_ptr<MockServer> start_mock(const MockProviderOptions& options = {}) {
  auto server = MockServer::start(options);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error().message));
  return std::move(server).value();
}

inline httplib::Client client_for(const MockServer& server) {
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(10, 0);
  return client;
}

inline std::string chat_body(const std::string& text, bool stream = false,
                             bool include_usage = false) {
  std::string body = R"({"model":"sim-1","messages":[{"role":"user","content":")" + text + R"("}])";
  if (stream) body += R"(,"stream":true)";
  if (include_usage) body += R"(,"stream_options":{"include_usage":true})";
  return body + "}";
}

// What a streamed request received: the events in order, when each arrived, and whether
// the transfer ended cleanly.
struct Streamed {
  int status = 0;
  std::string content_type;
  std::vector<http::SseEvent> events;
  std::vector<std::chrono::steady_clock::time_point> arrivals;  // one per event
  std::string body;
  bool complete = false;  // the chunked body ended properly
};

inline Streamed post_streaming(const MockServer& server, const std::string& path,
                               const std::string& body) {
  httplib::Client client = client_for(server);
  Streamed out;
  http::SseParser parser;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  // The status and headers arrive before the body, so they are known even when the
  // body is cut short and the request as a whole fails.
  req.response_handler = [&](const httplib::Response& res) {
    out.status = res.status;
    out.content_type = res.get_header_value("Content-Type");
    return true;
  };
  req.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    out.body.append(data, size);
    (void)parser.feed(std::string_view(data, size), out.events);
    out.arrivals.resize(out.events.size(), std::chrono::steady_clock::now());
    return true;
  };
  httplib::Result result = client.send(req);
  out.complete = result.error() == httplib::Error::Success;
  return out;
}

}  // namespace perdiem::providers::testing
