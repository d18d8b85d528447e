// BlockingPool: a job gets a thread at once, idle threads are reused, and destruction
// runs what was queued.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "base/blocking_pool.hpp"

using namespace std::chrono_literals;

namespace {

// Jobs that wait until released, counting how many are running.
struct Gate {
  std::mutex mutex;
  std::condition_variable changed;
  int running = 0;
  bool open = false;
  std::set<std::thread::id> threads;

  void pass() {
    std::unique_lock lock(mutex);
    ++running;
    threads.insert(std::this_thread::get_id());
    changed.notify_all();
    changed.wait(lock, [this] { return open; });
    --running;
    changed.notify_all();
  }
  bool wait_for_running(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return running >= n; });
  }
};

}  // namespace

TEST_CASE("every job starts at once, even while the others block") {
  Gate gate;
  {
    perdiem::base::BlockingPool pool;
    for (int i = 0; i < 32; ++i) pool.run([&gate] { gate.pass(); });
    // A job waiting on another job could never finish if the pool were bounded.
    REQUIRE(gate.wait_for_running(32));
    {
      std::lock_guard lock(gate.mutex);
      gate.open = true;
    }
    gate.changed.notify_all();
  }
  CHECK(gate.running == 0);
  CHECK(gate.threads.size() == 32);
}

TEST_CASE("idle threads are reused") {
  perdiem::base::BlockingPool pool;
  std::mutex mutex;
  std::set<std::thread::id> threads;
  for (int round = 0; round < 50; ++round) {
    std::atomic<bool> done{false};
    pool.run([&] {
      {
        std::lock_guard lock(mutex);
        threads.insert(std::this_thread::get_id());
      }
      done = true;
    });
    while (!done) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(1ms);  // the thread is idle again
  }
  // One after another: a handful of threads at most, not fifty.
  CHECK(threads.size() <= 3);
}

TEST_CASE("destroying the pool runs every job already queued") {
  std::atomic<int> ran{0};
  {
    perdiem::base::BlockingPool pool;
    for (int i = 0; i < 100; ++i) pool.run([&ran] { ++ran; });
  }
  CHECK(ran == 100);
}
