// The provider a replay runs against: answers each request with the recorded answer to
// the same request (matched by MemoryStore::request_hash), and nothing else.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/memory/records.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::sdk {

class ReplayProvider final : public providers::Provider {
 public:
  using RequestHash = std::function<std::string(const nlohmann::json&)>;

  // `steps`: the recorded run's steps; `name`: the provider it ran against.
  ReplayProvider(std::string name, std::vector<memory::StepRecord> steps, RequestHash hash);

  const std::string& name() const override { return name_; }
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request) override;
  Result<providers::EmbedResponse> embed(const providers::EmbedRequest& request) override;

  // The first divergence, if any: set even when the plan caught the error.
  std::optional<Error> divergence() const;
  int steps_replayed() const { return replayed_.load(); }

 private:
  // The recorded answer to `request`, or the divergence error.
  Result<nlohmann::json> answer(const char* kind, const nlohmann::json& request);

  const std::string name_;
  const RequestHash hash_;
  mutable std::mutex mutex_;
  std::vector<memory::StepRecord> steps_;
  std::vector<bool> used_;
  std::optional<Error> divergence_;
  std::atomic<int> replayed_{0};
  int asked_ = 0;
};

}  // namespace perdiem::sdk
