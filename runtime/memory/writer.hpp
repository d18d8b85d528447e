// The memory store's single writer: one thread, one connection, batched transactions.
//
// Callers on any thread enqueue operations (functions run against the writer's
// connection). The writer takes everything queued (up to max_batch) and applies it in
// one IMMEDIATE transaction, so a thousand agents recording steps pay for one commit
// between them rather than one each, and none waits for it unless it asks to (call(),
// flush()). Under load the writer lingers briefly (`linger`) before taking a batch that
// only posted operations fill, so a fast producer's steps share a commit too instead of
// each waking the writer for a transaction of its own; a call() or flush() ends the
// linger at once. If an operation fails, the batch is rolled back and its operations are re-run
// one transaction each, so only the failing one fails. Operations must therefore be
// safe to run twice after a rollback (write their outputs, not accumulate them).
//
// Thread-safety: every public member from any thread. The destructor applies whatever is
// queued, then joins the thread.
#pragma once

#include <chrono>
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
  // Short enough that a posted step is visible to readers within a couple of
  // milliseconds; long enough that 100,000 steps a second share ~100 per commit.
  static constexpr std::chrono::microseconds kDefaultLinger{1000};

  // `max_queued`: post() blocks while this many operations wait (backpressure).
  // `linger`: how long a batch of posted operations may wait for more before it is
  // applied (0: apply at once). Waiters (call, flush) and a full batch never wait.
  Writer(std::unique_ptr<sql::Db> db, std::size_t max_batch, std::size_t max_queued,
         std::chrono::microseconds linger = kDefaultLinger);
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
  // With mu_ held: whether the writer should take a batch now rather than linger.
  bool batch_ready() const;
  // Applies `batch` in one transaction; on an operation's failure rolls back and re-runs
  // each alone. Sets every item's status.
  void apply(std::vector<Item>& batch);
  Status apply_in_transaction(std::vector<Item>& items, std::size_t from, std::size_t to);
  void finish(std::vector<Item>& batch);

  std::unique_ptr<sql::Db> db_;
  const std::size_t max_batch_;
  const std::size_t max_queued_;
  const std::chrono::microseconds linger_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // writer waits for work
  std::condition_variable space_cv_;  // post() waits for room
  std::deque<Item> queue_;
  bool stopping_ = false;
  bool lingering_ = false;   // the writer waits for more posts before taking a batch
  std::size_t waiters_ = 0;  // queued items someone waits for (call, call_alone, flush)
  std::optional<Error> post_error_;
  Stats stats_;
  std::thread thread_;
};

}  // namespace perdiem::memory
