#include "sdk/src/scheduled_runs.hpp"

#include <algorithm>
#include <iterator>

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
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(mutex_);
    result_ = std::move(result);
    callbacks.swap(on_finish_);
  }
  finished_.notify_all();
  for (auto& callback : callbacks) callback();
}

void BackgroundRun::cancel() {
  std::vector<std::weak_ptr<BackgroundRun>> children;
  {
    std::lock_guard lock(mutex_);
    cancel_.store(true);
    children = adopted_;
  }
  for (const auto& weak : children) {
    if (std::shared_ptr<BackgroundRun> child = weak.lock()) child->cancel();
  }
}

void BackgroundRun::adopt(const std::shared_ptr<BackgroundRun>& child) {
  {
    std::lock_guard lock(mutex_);
    if (!cancel_.load()) {
      adopted_.push_back(child);
      return;
    }
  }
  child->cancel();
}

void BackgroundRun::on_finish(std::function<void()> callback) {
  {
    std::lock_guard lock(mutex_);
    if (!result_) {
      on_finish_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

ScheduledRuns::ScheduledRuns(scheduler::SchedulerOptions options, std::function<void()> flush)
    : flush_(std::move(flush)), scheduler_(options) {}

ScheduledRuns::~ScheduledRuns() {
  std::vector<std::shared_ptr<BackgroundRun>> handles;
  {
    std::lock_guard lock(mutex_);
    handles.swap(handles_);
  }
  for (auto& handle : handles) handle->cancel();
  for (auto& handle : handles) handle->wait();
}

void ScheduledRuns::close(Closing closing) {
  {
    std::lock_guard lock(closing_mutex_);
    closing_.push_back(std::move(closing));
    if (closer_running_) return;
    closer_running_ = true;
  }
  try {
    pool_.run([this] { drain_closing(); });
  } catch (...) {
    // No thread could start: close here rather than leave every later run waiting.
    drain_closing();
  }
}

void ScheduledRuns::drain_closing() {
  // Enough to share the disk's work, few enough that the first run's handle is not held
  // back long by the last one's.
  constexpr std::size_t kMaxBatch = 512;
  // A step that throws (a bug, or out of memory) must not keep the other runs' handles
  // from finishing: each is guarded, and a run whose close failed still finishes.
  const auto guarded = [](const std::function<void()>& step) {
    try {
      step();
    } catch (...) {
    }
  };
  for (;;) {
    std::vector<Closing> batch;
    {
      std::lock_guard lock(closing_mutex_);
      if (closing_.empty()) {
        closer_running_ = false;
        return;
      }
      const std::size_t taken = std::min(kMaxBatch, closing_.size());
      batch.assign(std::make_move_iterator(closing_.begin()),
                   std::make_move_iterator(closing_.begin() + static_cast<long>(taken)));
      closing_.erase(closing_.begin(), closing_.begin() + static_cast<long>(taken));
    }
    std::vector<bool> open(batch.size(), false);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      guarded([&] { open[i] = batch[i].begin(); });
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (open[i]) guarded(batch[i].end);
    }
    guarded(flush_);
    for (Closing& closed : batch) guarded(closed.done);
  }
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
