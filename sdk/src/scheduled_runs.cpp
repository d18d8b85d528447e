#include "sdk/src/scheduled_runs.hpp"

#include <algorithm>

#include <exception>

namespace perdiem {

RunHandle::~RunHandle() = default;

namespace sdk {

bool BackgroundRun::done() const {
  std::lock_guard lock(mutex_);
  return result_.has_value();
}

const RunResult& BackgroundRun::wait() {
  std::unique_lock lock(mutex_);
  finished_.wait(lock, [this] { return result_.has_value(); });
  return *result_;
}

std::optional<RunResult> BackgroundRun::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!finished_.wait_for(lock, timeout, [this] { return result_.has_value(); })) {
    return std::nullopt;
  }
  return *result_;
}

void BackgroundRun::finish(RunResult result) {
  {
    std::lock_guard lock(mutex_);
    result_ = std::move(result);
  }
  finished_.notify_all();
}

ScheduledRuns::ScheduledRuns(scheduler::SchedulerOptions options) : scheduler_(options) {}

ScheduledRuns::~ScheduledRuns() {
  std::vector<std::shared_ptr<BackgroundRun>> handles;
  {
    std::lock_guard lock(mutex_);
    handles.swap(handles_);
  }
  for (auto& handle : handles) handle->cancel();
  for (auto& handle : handles) handle->wait();
}

void ScheduledRuns::start(std::shared_ptr<BackgroundRun> handle,
                          std::shared_ptr<scheduler::Agent> agent) {
  {
    std::lock_guard lock(mutex_);
    // Pruned when the list has doubled, so starting stays O(1) however many run.
    if (handles_.size() >= prune_at_) {
      handles_.erase(std::remove_if(handles_.begin(), handles_.end(),
                                    [](const auto& one) { return one->done(); }),
                     handles_.end());
      prune_at_ = std::max<std::size_t>(64, 2 * handles_.size());
    }
    handles_.push_back(std::move(handle));
  }
  scheduler_.start(std::move(agent));
}

}  // namespace sdk
}  // namespace perdiem
