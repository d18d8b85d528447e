// Runs started with Runtime::start_file/start_script: each on its own thread, with a
// handle to wait on and a flag to cancel it. (The scheduler will replace the thread per
// run with agents on shared event-loop threads; the handle stays the same.)
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "perdiem/perdiem.hpp"

namespace perdiem::sdk {

class BackgroundRun final : public RunHandle {
 public:
  explicit BackgroundRun(std::string run_id) : run_id_(std::move(run_id)) {}

  const std::string& run_id() const override { return run_id_; }
  bool done() const override;
  const RunResult& wait() override;
  std::optional<RunResult> wait_for(std::chrono::milliseconds timeout) override;
  void cancel() override { cancel_.store(true); }

  const std::atomic<bool>* cancel_flag() const { return &cancel_; }
  void finish(RunResult result);

 private:
  const std::string run_id_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mutex_;
  std::condition_variable finished_;
  std::optional<RunResult> result_;
};

// The background runs of one runtime. Destroying it cancels every run still going and
// waits for them, so no run outlives the runtime it uses. Thread-safe.
class BackgroundRuns {
 public:
  using Body = std::function<RunResult(const std::string& run_id, const std::atomic<bool>* cancel)>;

  BackgroundRuns() = default;
  ~BackgroundRuns();
  BackgroundRuns(const BackgroundRuns&) = delete;
  BackgroundRuns& operator=(const BackgroundRuns&) = delete;

  std::shared_ptr<RunHandle> start(std::string run_id, Body body);

 private:
  struct Entry {
    std::shared_ptr<BackgroundRun> run;
    std::thread thread;
  };
  void join_finished();  // with mutex_ held

  std::mutex mutex_;
  std::vector<Entry> entries_;
};

}  // namespace perdiem::sdk
