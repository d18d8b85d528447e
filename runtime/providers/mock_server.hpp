// An OpenAI-compatible chat-completions server on loopback, answering from the sim
// provider, with the faults MockProviderOptions asks for. Backs perdiem::MockProvider
// (sdk/include/perdiem/mock_provider.hpp) and the loopback HTTP tests.
//
// Serves POST {/v1,}/chat/completions (whole, or streamed as chat.completion.chunk
// events with "stream": true, the usage chunk when stream_options.include_usage),
// POST {/v1,}/messages (Anthropic's Messages API, whole or as its event sequence),
// POST {/v1,}/embeddings and GET {/v1,}/models. Answers 400 in the route's error format
// to undecodable requests, and 401 when options.required_key is set and the request
// carries it neither as a bearer token nor as x-api-key. Then, per model request, the
// faults (mock_scenario.hpp): latency, a failure status with Retry-After, a broken body
// or stream (mock_answer.hpp).
//
// Thread-safety: requests are answered on the server's own threads; port(), base_url()
// and requests_served() may be called from any thread; stop() from any thread but a
// request handler, any number of times. The destructor stops the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "perdiem/error.hpp"
#include "perdiem/mock_provider.hpp"

namespace perdiem::providers {

class MockServer {
 public:
  // Returns once the server is accepting connections. Fails with kind `transport` when
  // the address cannot be bound (the port is taken), invalid_argument for options out of
  // range (mock::validate).
  static Result<std::unique_ptr<MockServer>> start(const MockProviderOptions& options);
  virtual ~MockServer() = default;
  virtual std::uint16_t port() const = 0;
  virtual std::string base_url() const = 0;  // "http://127.0.0.1:PORT/v1"
  // Model requests received (chat, messages, embeddings), whatever their answer.
  virtual std::uint64_t requests_served() const = 0;
  // How many of them were answered with `status`.
  virtual std::uint64_t requests_with_status(int status) const = 0;
  // Blocks until stop() has been called (returns at once if it already was).
  virtual void wait() = 0;
  // Stops accepting, finishes requests in flight, and joins the server thread.
  virtual void stop() = 0;
};

}  // namespace perdiem::providers
