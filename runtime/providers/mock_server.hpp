// An OpenAI-compatible chat-completions server on loopback, answering from the sim
// provider. Backs perdiem::MockProvider (sdk/include/perdiem/mock_provider.hpp) and the
// loopback HTTP tests.
//
// Serves POST {/v1,}/chat/completions and GET {/v1,}/models. Answers 400 with an OpenAI
// error body to undecodable JSON and to "stream": true (not supported yet), and 401 when
// options.required_key is set and the request does not carry it as a bearer token.
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
  // the address cannot be bound (the port is taken).
  static Result<std::unique_ptr<MockServer>> start(const MockProviderOptions& options);
  virtual ~MockServer() = default;
  virtual std::uint16_t port() const = 0;
  virtual std::string base_url() const = 0;           // "http://127.0.0.1:PORT/v1"
  virtual std::uint64_t requests_served() const = 0;  // chat completions answered
  // Blocks until stop() has been called (returns at once if it already was).
  virtual void wait() = 0;
  // Stops accepting, finishes requests in flight, and joins the server thread.
  virtual void stop() = 0;
};

}  // namespace perdiem::providers
