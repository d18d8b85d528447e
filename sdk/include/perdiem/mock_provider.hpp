// A local provider for offline development and tests: serves the OpenAI chat-completions
// wire format (and Anthropic's Messages API) on 127.0.0.1, answering from the
// deterministic sim provider, and misbehaves on request so that retries, fallbacks and
// the wallet's handling of failed calls can be tested against real HTTP.
//
//   perdiem::MockProviderOptions options;   // port 0: any free port
//   options.fail_first = 2;                 // the first two model requests fail...
//   options.fail_status = 429;              // ...with 429 and "Retry-After: 1"
//   options.retry_after_seconds = 1;
//   auto server = perdiem::MockProvider::start(options);
//   // point an OpenAI-compatible client at (*server)->base_url()
//
// Thread-safety: the server answers on its own threads; stop() may be called from any
// thread, and the destructor stops it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"
#include "perdiem/export.h"

namespace perdiem {

// Faults apply to model requests (chat completions, messages, embeddings) that pass the
// key check and decode; everything random is drawn from `seed` and the request's number,
// so one seed gives the same faults on every run. Members added after the first release
// carry initializers, so aggregate initializations written before them stay valid.
struct MockProviderOptions {
  std::uint16_t port = 0;  // 0 picks a free port
  std::string host = "127.0.0.1";
  std::uint64_t seed = 1;    // the sim provider's seed, and the faults'
  std::string required_key;  // when set, requests must send "Authorization: Bearer KEY"
                             // (or "x-api-key: KEY" on the Anthropic route)

  // ---- latency ----
  std::chrono::milliseconds latency{0};         // waited before answering each request
  std::chrono::milliseconds latency_jitter{0};  // plus a uniform [0, jitter] extra

  // ---- failing with a status ----
  int fail_first = 0;       // the first N model requests fail with fail_status
  double error_rate = 0.0;  // later ones fail with this probability, 0..1
  int fail_status = 500;    // 429, 500, 503, ... (any 400-599)
  // Sent as "Retry-After: N" with every failure when set.
  std::optional<int> retry_after_seconds{};

  // ---- broken answers (status 200) ----
  bool malformed_json = false;           // a body cut off mid-JSON
  bool wrong_content_type = false;       // an HTML page as text/html, as a proxy would send
  std::size_t oversized_body_bytes = 0;  // pad each answer with whitespace to this size

  // ---- streams ("stream": true) ----
  // Close the connection after this many SSE events, without ending the stream.
  std::optional<std::size_t> cut_after_chunks{};
  std::chrono::milliseconds chunk_delay{0};  // waited before each SSE event
};

// Reads a scenario: a JSON object whose members are the options above by name, with
// durations in milliseconds ("latency_ms", "latency_jitter_ms", "chunk_delay_ms"), e.g.
//   {"fail_first": 2, "fail_status": 429, "retry_after_seconds": 1, "latency_ms": 50}
// Members it does not name keep their value in `base`. Fails with invalid_argument
// naming the member at fault (an unknown name, a wrong type, a value out of range).
PERDIEM_API Result<MockProviderOptions> mock_scenario_from_json(std::string_view json,
                                                                MockProviderOptions base = {});

class PERDIEM_API MockProvider {
 public:
  // Binds and starts serving; fails with kind `transport` when the port is taken, and
  // invalid_argument when an option is out of range.
  static Result<std::unique_ptr<MockProvider>> start(MockProviderOptions options);

  virtual ~MockProvider();
  MockProvider(const MockProvider&) = delete;
  MockProvider& operator=(const MockProvider&) = delete;

  virtual std::uint16_t port() const = 0;
  // "http://127.0.0.1:PORT/v1", ready for --base-url.
  virtual std::string base_url() const = 0;
  // Model requests received so far (chat completions, messages, embeddings), whatever
  // they were answered with: each attempt a client makes counts once.
  virtual std::uint64_t requests_served() const = 0;
  // How many of them were answered with `status` (200, 429, ...). A stream counts as 200
  // when its headers went out, even if it was cut later.
  virtual std::uint64_t requests_with_status(int status) const = 0;
  // Blocks the calling thread until stop() is called from another thread (or a signal
  // handler thread); for the `perdiem mock-provider` command.
  virtual void wait() = 0;
  virtual void stop() = 0;

 protected:
  MockProvider() = default;
};

}  // namespace perdiem
