#include "runtime/memory/reader_pool.hpp"

namespace perdiem::memory {

Result<ReaderPool::Lease> ReaderPool::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto db = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(db));
    }
  }
  auto db = sql::Db::open(path_, "memory.db", busy_timeout_ms_);
  if (!db) return db.error();
  // A reader must never write, even by mistake in a query.
  // query_only: a reader must never write, even by mistake. mmap: reads share the OS page
  // cache instead of copying pages into each connection's own cache.
  Status st = (*db)->exec("PRAGMA query_only=1; PRAGMA mmap_size=268435456");
  if (!st.ok()) return st.error();
  return Lease(this, std::move(*db));
}

void ReaderPool::give_back(std::unique_ptr<sql::Db> db) {
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(db));
}

}  // namespace perdiem::memory
