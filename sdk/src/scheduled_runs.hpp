// Runs started with Runtime::start_file/start_script: agents on the scheduler's
// event-loop threads (runtime/scheduler), each with a handle to wait on and a flag to
// cancel it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/blocking_pool.hpp"
#include "perdiem/perdiem.hpp"
#include "runtime/scheduler/scheduler.hpp"

namespace perdiem::sdk {

// The app's handle on a run it started.
class BackgroundRun final : public RunHandle {
 public:
  explicit BackgroundRun(std::string run_id) : run_id_(std::move(run_id)) {}

  const std::string& run_id() const override { return run_id_; }
  bool done() const override;
  const RunResult& wait() override;
  std::optional<RunResult> wait_for(std::chrono::milliseconds timeout) override;
  // Cancels this run and the sub-agents it adopted, theirs in turn.
  void cancel() override;

  const std::atomic<bool>* cancel_flag() const { return &cancel_; }
  // Makes `child` (a sub-agent's handle) cancelled whenever this run is: at once if it
  // already is, else by cancel(). The child's own deadline never outlasts this run's
  // (agent.spawn caps it), so cancelling is all a parent must pass on.
  void adopt(const std::shared_ptr<BackgroundRun>& child);
  void finish(RunResult result);
  // Runs `callback` once the run has finished: now, on this thread, if it has; else on
  // the thread that finishes it, after its waiters are woken. It must not block.
  void on_finish(std::function<void()> callback);

 private:
  const std::string run_id_;
  std::atomic<bool> cancel_{false};
  mutable std::mutex mutex_;
  std::condition_variable finished_;
  std::optional<RunResult> result_;
  std::vector<std::function<void()>> on_finish_;  // until result_ is set
  std::vector<std::weak_ptr<BackgroundRun>> adopted_;
};

// The background runs of one runtime, the scheduler they run on, and the pool for what
// they can only do blocking. Destroying it cancels every run still going and waits for
// each to finish, so no run outlives the runtime it uses. Thread-safety: all members.
class ScheduledRuns {
 public:
  // A finished run's end, in the parts of RuntimeImpl::close_run.
  struct Closing {
    std::function<bool()> begin;  // false: nothing more to close before `done`
    std::function<void()> end;
    std::function<void()> done;   // after the batch's flush: the run's handle finishes
  };

  // `flush` runs once per batch of closings, after their ends and before their dones.
  ScheduledRuns(scheduler::SchedulerOptions options, std::function<void()> flush);
  ~ScheduledRuns();
  ScheduledRuns(const ScheduledRuns&) = delete;
  ScheduledRuns& operator=(const ScheduledRuns&) = delete;

  // Starts `agent`, whose run `handle` finishes.
  void start(std::shared_ptr<BackgroundRun> handle, std::shared_ptr<scheduler::Agent> agent);
  // Closes a finished run on the blocking pool, batched with the runs that finish while
  // it waits: every begin, then every end, then one flush, then every done. Ten
  // thousand runs ending together so take a few hundred batches on one pool thread,
  // where each on its own would block a pool thread on the disk.
  void close(Closing closing);
  base::BlockingPool& blocking() { return pool_; }
  std::size_t threads() const { return scheduler_.threads(); }

 private:
  void drain_closing();  // the closer: batches until closing_ is empty

  std::mutex mutex_;
  std::vector<std::shared_ptr<BackgroundRun>> handles_;  // pruned of finished ones
  std::size_t prune_at_ = 64;
  const std::function<void()> flush_;
  std::mutex closing_mutex_;
  std::vector<Closing> closing_;  // waiting for the closer
  bool closer_running_ = false;   // a pool job is draining closing_
  scheduler::Scheduler scheduler_;
  base::BlockingPool pool_;  // after scheduler_: destroyed first, its jobs drained
};

}  // namespace perdiem::sdk
