// A host model for concurrency tests: holds each call for `hold`, answers "<prefix><last
// message>", and counts the calls and how many were in flight at once.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "perdiem/host_provider.hpp"

namespace perdiem::testing {

class CountingModel final : public HostProvider {
 public:
  explicit CountingModel(std::chrono::milliseconds hold, std::string prefix = "re:")
      : hold_(hold), prefix_(std::move(prefix)) {}

  Result<HostChatReply> chat(const HostChatRequest& request) override {
    const int now = in_flight.fetch_add(1) + 1;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(hold_);
    in_flight.fetch_sub(1);
    calls.fetch_add(1);
    HostChatReply reply;
    reply.content = prefix_ + request.messages.back().content;
    reply.input_tokens = 1;
    reply.output_tokens = 1;
    return reply;
  }

  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> calls{0};

 private:
  const std::chrono::milliseconds hold_;
  const std::string prefix_;
};

}  // namespace perdiem::testing
