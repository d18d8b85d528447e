// Read connections for MemoryStore: each read borrows one, so readers on many threads
// never share (or wait for) a connection, and WAL lets them read while the writer writes.
// Connections are query_only. Up to max_idle are kept for reuse; more are opened on demand
// and closed when returned.
// Thread-safety: acquire() from any thread; a Lease belongs to the thread that took it.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/memory/sql.hpp"

namespace perdiem::memory {

class ReaderPool {
 public:
  ReaderPool(std::string path, int busy_timeout_ms, std::size_t max_idle)
      : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms), max_idle_(max_idle) {}

  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<sql::Db> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (db_) pool_->give_back(std::move(db_));
    }
    sql::Db& db() { return *db_; }

   private:
    ReaderPool* pool_;
    std::unique_ptr<sql::Db> db_;
  };

  [[nodiscard]] Result<Lease> acquire();

 private:
  void give_back(std::unique_ptr<sql::Db> db);

  const std::string path_;
  const int busy_timeout_ms_;
  const std::size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<sql::Db>> idle_;
};

}  // namespace perdiem::memory
