#include "sdk/src/background_runs.hpp"

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

BackgroundRuns::~BackgroundRuns() {
  std::vector<Entry> entries;
  {
    std::lock_guard lock(mutex_);
    entries.swap(entries_);
  }
  for (auto& entry : entries) entry.run->cancel();
  for (auto& entry : entries) {
    if (entry.thread.joinable()) entry.thread.join();
  }
}

std::shared_ptr<RunHandle> BackgroundRuns::start(std::string run_id, Body body) {
  auto run = std::make_shared<BackgroundRun>(run_id);
  std::lock_guard lock(mutex_);
  join_finished();
  std::thread thread([run, body = std::move(body)] {
    RunResult result;
    try {
      result = body(run->run_id(), run->cancel_flag());
    } catch (const std::exception& e) {
      result.run_id = run->run_id();
      result.error = make_error(ErrorKind::internal, std::string("the run failed: ") + e.what());
    }
    run->finish(std::move(result));
  });
  entries_.push_back(Entry{run, std::move(thread)});
  return run;
}

void BackgroundRuns::join_finished() {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->run->done()) {
      it->thread.join();  // it has delivered its result and is about to return
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace sdk
}  // namespace perdiem
