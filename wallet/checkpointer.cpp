#include "wallet/checkpointer.hpp"

#include <pthread.h>
#include <sqlite3.h>

#include <chrono>

#include "wallet/schema.hpp"

namespace perdiem::wallet {
namespace {

std::int64_t steady_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

struct Progress {
  int log = -1;  // the WAL's length in pages; -1 when the checkpoint could not run
  int copied = 0;
};

// PASSIVE: copies what no reader still needs, never waits (no busy handler). Failing
// (another process checkpointing, a storage error) is harmless: a later commit asks again.
Progress checkpoint(sqlite3* db, const char* schema) {
  Progress p;
  int log = 0;
  if (sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, &log, &p.copied) ==
      SQLITE_OK)
    p.log = log;
  return p;
}

}  // namespace

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::string& path, int pages,
                                                         int restart_pages, int busy_timeout_ms) {
  if (pages <= 0 || restart_pages < pages)
    return make_error(ErrorKind::invalid_argument, "checkpoint pages must be 0 < pages <= restart");
  // The busy timeout covers opening only: a PASSIVE checkpoint never waits.
  auto db = sql::Db::open(path, busy_timeout_ms);
  if (!db) return db.error();
  // FULL: the checkpoint syncs the WAL before copying and the database after.
  Status st = configure_connection(*db);
  if (!st.ok()) return st.error();
  std::unique_ptr<Checkpointer> c(new Checkpointer(std::move(*db), pages, restart_pages));
  c->thread_ = std::thread([p = c.get()] { p->run(); });
  return c;
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::int64_t Checkpointer::committed(sqlite3* writer, const char* schema, int wal_pages) {
  if (wal_pages < wal_pages_) copied_.store(0, std::memory_order_relaxed);  // restarted
  wal_pages_ = wal_pages;
  if (finish_pending_.load(std::memory_order_acquire)) {
    const std::int64_t start = steady_us();
    const Progress done = checkpoint(writer, schema);
    const std::int64_t took = steady_us() - start;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.finishes;
      stats_.finish_us += took;
      if (done.log >= 0) copied_.store(done.copied, std::memory_order_relaxed);
      requested_ = false;  // nothing to copy until the WAL, restarted, fills again
      finish_pending_.store(false, std::memory_order_release);
    }
    return took;
  }
  // Each round costs two syncs whatever it copies: wait until it has enough to copy.
  if (wal_pages - copied_.load(std::memory_order_relaxed) >= pages_) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      requested_ = true;
    }
    cv_.notify_one();
  }
  return 0;
}

Checkpointer::Stats Checkpointer::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Checkpointer::run() {
  ::pthread_setname_np(::pthread_self(), "perdiem-ckpt");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] {
      return stopping_ || (requested_ && !finish_pending_.load(std::memory_order_relaxed));
    });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    const std::int64_t start = steady_us();
    const Progress done = checkpoint(db_.handle(), "main");
    const std::int64_t took = steady_us() - start;
    lock.lock();
    ++stats_.rounds;
    stats_.round_us += took;
    if (done.log < 0) continue;
    copied_.store(done.copied, std::memory_order_relaxed);
    // Pages committed during the round are left: the writer copies those between two
    // of its commits, after which the WAL can restart.
    if (done.log >= restart_pages_) finish_pending_.store(true, std::memory_order_release);
  }
}

}  // namespace perdiem::wallet
