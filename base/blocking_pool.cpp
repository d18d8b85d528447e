#include "base/blocking_pool.hpp"

#include <pthread.h>

namespace perdiem::base {

BlockingPool::~BlockingPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& thread : threads_) thread.join();
}

void BlockingPool::run(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    // Enough threads for every job queued: an idle thread takes one, a new one the rest.
    if (idle_ < jobs_.size()) threads_.emplace_back([this] { work(); });
  }
  wake_.notify_one();
}

void BlockingPool::work() {
  ::pthread_setname_np(::pthread_self(), "perdiem-pool");  // for top, perf and gdb
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    --idle_;
    if (jobs_.empty()) return;  // stopping, nothing left
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    job();
    lock.lock();
  }
}

}  // namespace perdiem::base
