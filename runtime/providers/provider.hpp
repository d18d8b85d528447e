// The Provider interface: one place that answers model calls, and the request and
// response types every adapter maps its wire format to and from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "perdiem/error.hpp"

namespace perdiem::providers {

struct Message {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct ChatRequest {
  std::string model;  // the provider's model id
  std::vector<Message> messages;
  std::optional<int> max_tokens;
  std::optional<double> temperature;
};

struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
};

struct ChatResponse {
  std::string content;
  std::string model;          // the model that answered, as the provider reports it
  std::string provider;       // the provider's name in perdiem ("sim", "openrouter")
  std::string finish_reason;  // "stop", "length", ...
  Usage usage;
  // Filled by the meter (runtime/metering), not by adapters: what the wallet charged for
  // this call in nano-USD, and the id of its signed receipt.
  std::int64_t cost_nanos = 0;
  std::string receipt_id;
};

// Thread-safety: implementations must allow concurrent chat() calls.
class Provider {
 public:
  virtual ~Provider() = default;
  // The name plans and traces see: "sim", "openrouter", "custom".
  virtual const std::string& name() const = 0;
  virtual Result<ChatResponse> chat(const ChatRequest& request) = 0;
};

}  // namespace perdiem::providers
