// One call's step: StepEvents to the app's on_step callback (`started` when constructed,
// `delta` for each piece of a streamed answer, `finished` with the outcome) and one step in the run's trace in memory.db. Builds no
// event when no one listens.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "perdiem/events.hpp"
#include "runtime/memory/memory_store.hpp"
#include "runtime/providers/provider.hpp"
#include "sdk/src/route_trace.hpp"

namespace perdiem::sdk {

using StepSink = std::function<void(const StepEvent&)>;

class StepReport {
 public:
  // `sink` may be empty and `trace` null; both must outlive the report.
  StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
             std::int64_t step, const std::string& provider, const providers::ChatRequest& request);
  StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
             std::int64_t step, const std::string& provider,
             const providers::EmbedRequest& request);

  // A tool call: `name` and its JSON arguments.
  StepReport(const StepSink& sink, memory::MemoryStore* trace, const std::string& run_id,
             std::int64_t step, const std::string& name, const nlohmann::json& arguments);

  // How the router chose the provider (decision and attempts), kept with the step's
  // trace. Call before finished().
  void route(RouteTrace decision) { route_ = std::move(decision); }
  // One piece of a streamed answer's text: a `delta` event (nothing is traced; the
  // finished step holds the whole text). Call between construction and finished().
  void delta(std::string_view text);
  void finished(const Result<providers::ChatResponse>& outcome);
  // A tool's result as the model reads it, what it cost and its receipt.
  void finished(const Result<std::string>& outcome, std::int64_t cost, const std::string& receipt);
  void finished(const Result<providers::EmbedResponse>& outcome);

 private:
  void start(StepKind kind, const std::string& run_id, std::int64_t step,
             const std::string& provider, const std::string& model);
  // `response`: the step's answer as the trace stores it (JSON text; "" = none).
  void finish(const Error* error, const std::string& provider, const std::string& model,
              const providers::Usage* usage, std::int64_t cost, const std::string& receipt,
              std::string response);
  void deliver() const;

  const StepSink& sink_;
  memory::MemoryStore* trace_;
  // The request as the trace stores it (JSON text), written once for the event and the
  // trace; empty when no one listens.
  std::string request_;
  std::optional<RouteTrace> route_;  // unless route() was called
  StepEvent event_;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace perdiem::sdk
