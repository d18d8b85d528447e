// A model the host app answers itself: a model it runs in-process, its own gateway, a
// test double. Set RuntimeOptions::host_provider and every model.chat of every run goes
// to it instead of an HTTP provider, metered like any other (free unless the config's
// price sheet prices it under its name).
//
// Thread-safety: chat() is called concurrently from every run of the runtime, each on the
// thread running that run; implementations must be thread-safe. An exception thrown from
// chat() fails that call with kind `internal`; the run can catch it like any error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/export.h"

namespace perdiem {

struct HostMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct HostChatRequest {
  std::string model;  // what the plan asked for ("" when it named none)
  std::vector<HostMessage> messages;
  int max_tokens = 0;  // always set: the reservation bounds the bill with it
  std::optional<double> temperature;
};

struct HostChatReply {
  std::string content;
  std::string model;  // "" keeps the requested one
  std::string finish_reason = "stop";
  std::int64_t input_tokens = 0;  // what the wallet charges by, when priced
  std::int64_t output_tokens = 0;
};

class PERDIEM_API HostProvider {
 public:
  virtual ~HostProvider();
  // Errors are returned as values; kind provider/rate_limited/timeout with `retryable`
  // set are retried with backoff like an HTTP provider's.
  virtual Result<HostChatReply> chat(const HostChatRequest& request) = 0;
};

}  // namespace perdiem
