#include "runtime/providers/blocking_pool.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace perdiem::providers {

namespace {

class BlockingPool {
 public:
  BlockingPool() {
    for (std::size_t i = 0; i < kBlockingPoolThreads; ++i) {
      // Detached, and the pool is never destroyed: a worker may be inside a host app's
      // model call at exit, and joining it from a static destructor could hang the exit.
      std::thread([this] { work(); }).detach();
    }
  }

  void add(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
};

}  // namespace

void run_blocking(std::function<void()> job) {
  // Leaked on purpose (see the constructor); created on first use, thread-safely.
  static BlockingPool* const pool = new BlockingPool();
  pool->add(std::move(job));
}

}  // namespace perdiem::providers
