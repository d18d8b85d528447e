#include "runtime/providers/blocking_pool.hpp"

#include <utility>

#include "base/blocking_pool.hpp"

namespace perdiem::providers {

void run_blocking(std::function<void()> job) {
  // Leaked on purpose: a worker may be inside a host app's model call at exit, and
  // joining it from a static destructor could hang the exit. Created on first use.
  static base::BlockingPool* const pool = new base::BlockingPool();
  pool->run(std::move(job));
}

}  // namespace perdiem::providers
