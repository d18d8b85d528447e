// The memory store's single writer: one thread, one connection, batched transactions.
//
// Callers on any thread enqueue operations (functions run against the writer's
// connection). The writer takes everything queued (up to max_batch) and applies it in
// one IMMEDIATE transaction, so a thousand agents recording steps pay for one commit
// between them rather than one each, and none waits for it unless it asks to (call(),
// flush()). If an operation fails, the batch is rolled back and its operations are re-run
// one transaction each, so only the failing one fails. Operations must therefore be
// safe to run twice after a rollback (write their outputs, not accumulate them).
//
// Thread-safety: every public member from any thread. The destructor applies whatever is
// queued, then joins the thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/memory/sql.hpp"

namespace perdiem::memory {

class Writer {
 public:
  using Op = std::function<Status(sql::Db&)>;

  // `max_queued`: post() blocks while this many operations wait (backpressure).
  Writer(std::unique_ptr<sql::Db> db, std::size_t max_batch, std::size_t max_queued);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Enqueues `op` and returns at once. A failure is kept for the next flush().
  void post(Op op);
  // Enqueues `op` and waits until its batch commits: its own status, or the commit's.
  [[nodiscard]] Status call(Op op);
  // Like call(), but runs `op` alone outside any transaction (VACUUM cannot run in one).
  [[nodiscard]] Status call_alone(Op op);
  // Waits until everything enqueued before it has committed. Returns the first failure
  // of a post()ed operation since the previous flush (then forgets it), else ok.
  [[nodiscard]] Status flush();

  struct Stats {
    std::size_t batches = 0;
    std::size_t operations = 0;
    std::size_t failed_posts = 0;
  };
  Stats stats() const;

 private:
  struct Item {
    Op fn;
    std::shared_ptr<std::promise<Status>> done;  // null for post()
    bool alone = false;
    Status status;
  };

  void enqueue(Item item);
  void run();
  // Applies `batch` in one transaction; on an operation's failure rolls back and re-runs
  // each alone. Sets every item's status.
  void apply(std::vector<Item>& batch);
  Status apply_in_transaction(std::vector<Item>& items, std::size_t from, std::size_t to);
  void finish(std::vector<Item>& batch);

  std::unique_ptr<sql::Db> db_;
  const std::size_t max_batch_;
  const std::size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // writer waits for work
  std::condition_variable space_cv_;  // post() waits for room
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::optional<Error> post_error_;
  Stats stats_;
  std::thread thread_;
};

}  // namespace perdiem::memory
