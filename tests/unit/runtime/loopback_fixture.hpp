// Loopback HTTP servers for tests: a cpp-httplib server on a free 127.0.0.1 port that the
// test starts and stops, a gate that holds a handler until the test is done with it, the
// golden event streams from the fuzz corpus, and a helper that serves a body as an event
// stream in pieces, optionally cut off after N bytes.
#pragma once

#include <doctest/doctest.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "runtime/http/transport.hpp"

namespace perdiem::testing {

class LoopbackServer {
 public:
  explicit LoopbackServer(const std::function<void(httplib::Server&)>& install) {
    install(server_);
    port_ = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port_ > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~LoopbackServer() {
    server_.stop();
    thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string base_url() const { return origin() + "/v1"; }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

// Holds a handler (a slow server) until release() or destruction, at most `limit`.
class Gate {
 public:
  void wait(std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, limit, [this] { return open_; });
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  ~Gate() { release(); }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

// A file from tests/fuzz/corpus: the golden sequences the decoders' fuzz targets replay,
// taken from the providers' public docs.
// A plain GET of `url`.
inline http::Request get(const std::string& url) {
  http::Request request;
  request.method = "GET";
  request.url = url;
  return request;
}

// `bytes` of "0,1,2,...": a body whose every offset is recognisable.
inline std::string numbered_body(std::size_t bytes) {
  std::string body;
  for (std::size_t i = 0; body.size() < bytes; ++i) body += std::to_string(i) + ",";
  body.resize(bytes);
  return body;
}

inline std::string corpus_file(const std::string& relative) {
  std::ifstream in(std::string(PERDIEM_SOURCE_DIR) + "/tests/fuzz/corpus/" + relative,
                   std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing corpus file " << relative);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline constexpr std::size_t kWholeBody = static_cast<std::size_t>(-1);

// Serves `body` chunked, `piece` bytes per chunk. With `cut_after` below the body's size
// the connection closes after that many bytes, without the chunked terminator: a stream
// cut off mid-way. `before_chunk(offset)` runs before each chunk (a test's sleep).
// httplib gzips text/* (but text/event-stream) and JSON for clients that accept it,
// holding bytes back in the compressor: byte-exact tests serve octet-stream.
inline void serve_chunked(httplib::Response& res, std::string body, std::size_t piece,
                          std::size_t cut_after = kWholeBody,
                          std::string content_type = "text/event-stream",
                          std::function<void(std::size_t)> before_chunk = {}) {
  const std::size_t end = std::min(body.size(), cut_after);
  const bool complete = end == body.size();
  res.set_chunked_content_provider(content_type, [body = std::move(body), piece, end, complete,
                                                  before_chunk = std::move(before_chunk)](
                                                     std::size_t offset, httplib::DataSink& sink) {
    if (before_chunk) before_chunk(offset);
    if (offset >= end) {
      if (!complete) return false;  // drops the connection mid-body
      sink.done();
      return true;
    }
    const std::size_t n = std::min(piece, end - offset);
    return sink.write(body.data() + offset, n);
  });
}

}  // namespace perdiem::testing
