// A local provider for offline development and tests: serves the OpenAI chat-completions
// wire format on 127.0.0.1, answering from the deterministic sim provider.
//
//   perdiem::MockProviderOptions options;   // port 0: any free port
//   auto server = perdiem::MockProvider::start(options);
//   // point an OpenAI-compatible client at (*server)->base_url()
//
// Thread-safety: the server answers on its own threads; stop() may be called from any
// thread, and the destructor stops it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "perdiem/error.hpp"
#include "perdiem/export.h"

namespace perdiem {

struct MockProviderOptions {
  std::uint16_t port = 0;        // 0 picks a free port
  std::string host = "127.0.0.1";
  std::uint64_t seed = 1;        // the sim provider's seed
  std::string required_key;      // when set, requests must send "Authorization: Bearer KEY"
};

class PERDIEM_API MockProvider {
 public:
  // Binds and starts serving; fails with kind `transport` when the port is taken.
  static Result<std::unique_ptr<MockProvider>> start(MockProviderOptions options);

  virtual ~MockProvider();
  MockProvider(const MockProvider&) = delete;
  MockProvider& operator=(const MockProvider&) = delete;

  virtual std::uint16_t port() const = 0;
  // "http://127.0.0.1:PORT/v1", ready for --base-url.
  virtual std::string base_url() const = 0;
  // Number of chat completions served so far.
  virtual std::uint64_t requests_served() const = 0;
  // Blocks the calling thread until stop() is called from another thread (or a signal
  // handler thread); for the `perdiem mock-provider` command.
  virtual void wait() = 0;
  virtual void stop() = 0;

 protected:
  MockProvider() = default;
};

}  // namespace perdiem
