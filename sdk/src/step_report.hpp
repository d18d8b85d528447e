// One call's StepEvents: `started` when constructed, `finished` with the outcome. Builds
// nothing when no one listens, so runs without an on_step callback pay nothing for it.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "perdiem/events.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::sdk {

using StepSink = std::function<void(const StepEvent&)>;

class StepReport {
 public:
  // `sink` may be empty; it must outlive the report.
  StepReport(const StepSink& sink, const std::string& run_id, std::int64_t step,
             const std::string& provider, const providers::ChatRequest& request);
  StepReport(const StepSink& sink, const std::string& run_id, std::int64_t step,
             const std::string& provider, const providers::EmbedRequest& request);

  void finished(const Result<providers::ChatResponse>& outcome);
  void finished(const Result<providers::EmbedResponse>& outcome);

 private:
  void start(const std::string& run_id, std::int64_t step, StepKind kind,
             const std::string& provider, const std::string& model, std::string request_json);
  void finish(const Error* error, const std::string& provider, const providers::Usage* usage,
              std::int64_t cost, const std::string& receipt);
  void deliver() const;

  const StepSink& sink_;
  StepEvent event_;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace perdiem::sdk
