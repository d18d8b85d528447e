// Shared worker threads for calls that can only block (a host app's model, any Provider
// without an asynchronous path), so Provider::start_chat's default never holds an event
// loop's thread. A call gets a thread at once (an idle one, or a new one: see
// base/blocking_pool.hpp), so a slow host model is never throttled to a few calls at
// once; threads are kept for reuse.
#pragma once

#include <cstddef>
#include <functional>

namespace perdiem::providers {

// Runs `job` on one of the pool's threads; returns at once. An exception escaping `job` ends the
// process, as on any thread: callers catch their own.
void run_blocking(std::function<void()> job);

}  // namespace perdiem::providers
