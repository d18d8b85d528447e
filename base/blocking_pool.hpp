// Threads for work that can only block: a host-app model answering a call, a tool, a
// run's last durable writes. Event-loop threads must never wait on these, so
// they hand them here and are told when they are done.
//
// A job gets a thread at once: an idle one, or a new one (so a job that waits for
// another job can never starve it). Threads stay for reuse once idle, so the pool is as
// big as the most jobs that were ever running together.
//
// Thread-safety: run() from any thread. The destructor runs every queued job, then joins.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace perdiem::base {

class BlockingPool {
 public:
  BlockingPool() = default;
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs `job` on a pool thread. A job must not throw (it is the caller's to catch).
  void run(std::function<void()> job);

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::vector<std::thread> threads_;
  std::size_t idle_ = 0;
  bool stopping_ = false;
};

}  // namespace perdiem::base
