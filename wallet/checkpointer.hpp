// Checkpoints wallet.db's WAL on a thread of its own, so that copying pages into the
// database file, and syncing it, mostly happens while the writer goes on committing.
//
// SQLite's own auto-checkpoint runs inside the COMMIT that finds the WAL long enough
// (1000 pages): the writer, and every caller queued behind it, waits for a few thousand
// page copies and two fsyncs. Here that commit only wakes this thread, which runs a
// PASSIVE checkpoint on its own connection: it copies what no reader still needs and
// never waits for the writer or the readers, nor they for it.
//
// A WAL restarts from its beginning (so it stops growing, and later commits overwrite it
// in place, which syncs faster than appending) only after a checkpoint that left no page
// behind, and only one that runs between commits can do that. So once the WAL is
// `restart_pages` long (several rounds), the writer's next commit finishes the job
// itself: it copies the pages committed during the last round, and the commit after it
// restarts the WAL. Copying is the smaller part of that stall; most of it is the two
// syncs (WAL, then database) every completed checkpoint needs, so the writer pays them
// once per restart_pages rather than once per `pages` as with SQLite's auto-checkpoint.
//
// Thread-safety: committed() from the writer thread only; stats() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "perdiem/error.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

class Checkpointer {
 public:
  // Opens a connection of its own to the WAL-mode database at `path` and starts the
  // thread. A round starts once `pages` pages (> 0) wait to be copied; the writer
  // finishes once the WAL holds `restart_pages` (>= pages).
  static Result<std::unique_ptr<Checkpointer>> start(const std::string& path, int pages,
                                                     int restart_pages, int busy_timeout_ms);
  // Stops the thread (a round in progress completes first).
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Called by the writer after each of its commits (from its WAL hook), with its
  // connection and the WAL's length. Returns the microseconds it spent finishing a
  // checkpoint itself (usually 0).
  std::int64_t committed(sqlite3* writer, const char* schema, int wal_pages);

  struct Stats {
    std::uint64_t rounds = 0;    // background checkpoints
    std::int64_t round_us = 0;   // their time
    std::uint64_t finishes = 0;  // finished by the writer
    std::int64_t finish_us = 0;  // the writer's time in them
  };
  Stats stats() const;

 private:
  Checkpointer(sql::Db db, int pages, int restart_pages)
      : db_(std::move(db)), pages_(pages), restart_pages_(restart_pages) {}
  void run();

  sql::Db db_;
  const int pages_;
  const int restart_pages_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopping_ = false;
  // Writer thread only: the WAL's length at the last commit, and how much of it the
  // last round had copied (reset when the WAL restarts).
  int wal_pages_ = 0;
  std::atomic<int> copied_{0};
  // Set when a round ends with the WAL restart_pages long; the writer finishes, then
  // clears it. No round starts meanwhile, so the writer never finds the lock taken.
  std::atomic<bool> finish_pending_{false};
  Stats stats_;
  std::thread thread_;
};

}  // namespace perdiem::wallet
