// An OpenAI-compatible chat-completions server on loopback, answering from the sim
// provider. Backs perdiem::MockProvider (sdk/include/perdiem/mock_provider.hpp) and the
// loopback HTTP tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "perdiem/error.hpp"
#include "perdiem/mock_provider.hpp"

namespace perdiem::providers {

class MockServer {
 public:
  static Result<std::unique_ptr<MockServer>> start(const MockProviderOptions& options);
  virtual ~MockServer() = default;
  virtual std::uint16_t port() const = 0;
  virtual std::string base_url() const = 0;  // "http://127.0.0.1:PORT/v1"
  virtual std::uint64_t requests_served() const = 0;
  virtual void wait() = 0;
  virtual void stop() = 0;
};

}  // namespace perdiem::providers
