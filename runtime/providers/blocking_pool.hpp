// A few shared worker threads for calls that can only block (a host app's model, any
// Provider without an asynchronous path), so Provider::start_chat's default never holds
// an event loop's thread. Bounded: calls beyond the threads wait their turn in a queue.
#pragma once

#include <cstddef>
#include <functional>

namespace perdiem::providers {

// Threads in the pool; at most this many blocking calls run at once, process-wide.
inline constexpr std::size_t kBlockingPoolThreads = 8;

// Runs `job` on one of the pool's threads, after the jobs queued before it; returns at
// once. The threads start with the first job. An exception escaping `job` ends the
// process, as on any thread: callers catch their own.
void run_blocking(std::function<void()> job);

}  // namespace perdiem::providers
