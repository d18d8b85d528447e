// Group commit: one writer thread applies queued operations in batches, one IMMEDIATE
// transaction (one fsync) per batch. Callers from any thread submit a function and get a
// std::future; operations that arrive while a batch commits form the next batch, so the
// cost of a durable commit is shared by every caller waiting at that moment.
//
// If an operation fails after writing (a storage error mid-operation), the batch is rolled
// back and its operations are re-run one per transaction, so only the failing one fails.
// A second thread resolves the futures of a committed batch (one futex wake per caller)
// while the writer already runs the next one; when there is no next one, the writer
// resolves them itself. Nothing sleeps on a timer: the writer
// waits on a condition variable only while the queue is empty.
// Thread-safety: submit() from any thread. The destructor drains the queue, then joins.
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

#include "base/clock.hpp"
#include "perdiem/error.hpp"
#include "wallet/book.hpp"
#include "wallet/latency_histogram.hpp"

namespace perdiem::wallet {

class GroupCommit {
 public:
  GroupCommit(std::unique_ptr<Book> book, base::Clock& clock, std::size_t max_batch);
  ~GroupCommit();
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs `fn` inside the next batch's transaction; the future resolves after the commit
  // (or with the error that prevented it).
  template <typename T>
  std::future<Result<T>> submit(std::function<Result<T>(Book&)> fn) {
    auto op = std::make_unique<TypedOp<T>>(std::move(fn));
    auto future = op->promise.get_future();
    enqueue(std::move(op));
    return future;
  }

  // Counters for the benchmark: batches run, operations they held, and the writer's time
  // inside transactions and inside COMMIT (the fsync), in microseconds.
  struct Stats {
    std::size_t batches = 0;
    std::size_t operations = 0;
    std::int64_t busy_us = 0;
    std::int64_t commit_us = 0;
    std::int64_t cpu_us = 0;   // the writer thread's CPU time (busy_us less waits)
    LatencyHistogram commits;  // duration of each COMMIT
    Book::WalStats wal;        // pages written, checkpoints (their time is in commit_us)
  };
  Stats stats() const;

 private:
  struct Op {
    virtual ~Op() = default;
    // Runs the operation; true if it failed after writing (the batch must roll back).
    virtual bool apply(Book& book) = 0;
    // Replaces the outcome with `error` (the batch did not commit).
    virtual void fail(const Error& error) = 0;
    // Publishes the outcome to the waiting future.
    virtual void complete() = 0;
  };
  template <typename T>
  struct TypedOp final : Op {
    explicit TypedOp(std::function<Result<T>(Book&)> f) : fn(std::move(f)) {}
    bool apply(Book& book) override {
      auto before = book.writes();
      result.emplace(fn(book));
      return !result->ok() && book.writes() != before;
    }
    void fail(const Error& error) override { result.emplace(error); }
    void complete() override { promise.set_value(std::move(*result)); }
    std::function<Result<T>(Book&)> fn;
    std::promise<Result<T>> promise;
    std::optional<Result<T>> result;
  };

  void enqueue(std::unique_ptr<Op> op);
  void run();
  void run_completer();
  // Resolves a finished batch's futures, here or on the completer thread.
  void hand_over(std::vector<std::unique_ptr<Op>>& batch);
  // Applies `ops` in one transaction; false if the batch broke and was rolled back.
  bool run_batch(std::vector<std::unique_ptr<Op>>& ops);

  std::unique_ptr<Book> book_;
  base::Clock& clock_;
  const std::size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Op>> queue_;
  bool stopping_ = false;
  Stats stats_;
  // Committed (or failed) batches waiting for their futures to be resolved.
  std::mutex done_mu_;
  std::condition_variable done_cv_;
  std::deque<std::vector<std::unique_ptr<Op>>> done_;
  bool completing_ = false;  // the completer is resolving batches taken from done_
  bool done_stopping_ = false;
  std::thread thread_;
  std::thread completer_;
};

}  // namespace perdiem::wallet
