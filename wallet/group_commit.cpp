#include "wallet/group_commit.hpp"

#include <pthread.h>
#include <time.h>

#include <chrono>

namespace perdiem::wallet {
namespace {

// Statistics only, never decisions: real time even under a ManualClock.
std::int64_t steady_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

std::int64_t thread_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

}  // namespace

GroupCommit::GroupCommit(std::unique_ptr<Book> book, base::Clock& clock, std::size_t max_batch)
    : book_(std::move(book)), clock_(clock), max_batch_(max_batch == 0 ? 1 : max_batch) {
  completer_ = std::thread([this] { run_completer(); });
  thread_ = std::thread([this] { run(); });
}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    done_stopping_ = true;
  }
  done_cv_.notify_all();
  completer_.join();
}

void GroupCommit::enqueue(std::unique_ptr<Op> op) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      op->fail(make_error(ErrorKind::cancelled, "the wallet is closing"));
      op->complete();
      return;
    }
    queue_.push_back(std::move(op));
  }
  cv_.notify_one();
}

GroupCommit::Stats GroupCommit::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void GroupCommit::run() {
  ::pthread_setname_np(::pthread_self(), "perdiem-wallet");
  std::vector<std::unique_ptr<Op>> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    const std::int64_t start = steady_us();
    const std::int64_t cpu_start = thread_cpu_us();
    if (!run_batch(batch) && batch.size() > 1) {
      // Isolate the operation that broke the batch: one transaction each.
      for (auto& op : batch) {
        std::vector<std::unique_ptr<Op>> single;
        single.push_back(std::move(op));
        run_batch(single);
        op = std::move(single.front());
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.batches;
      stats_.operations += batch.size();
      stats_.busy_us += steady_us() - start;
      stats_.cpu_us += thread_cpu_us() - cpu_start;
      stats_.wal = book_->wal_stats();
    }
    hand_over(batch);
    batch.clear();  // moved-from: make it empty again
  }
}

void GroupCommit::hand_over(std::vector<std::unique_ptr<Op>>& batch) {
  bool idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle = queue_.empty();
  }
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    // Nothing to commit next and the completer done with earlier batches (so futures
    // still resolve in commit order): resolving here saves waking the completer, a
    // thread hop that costs more than the wakes themselves when the wallet is idle.
    if (idle && done_.empty() && !completing_) {
      for (auto& op : batch)
        if (op) op->complete();
      return;
    }
    done_.push_back(std::move(batch));
  }
  done_cv_.notify_one();
}

void GroupCommit::run_completer() {
  ::pthread_setname_np(::pthread_self(), "perdiem-settled");
  for (;;) {
    std::deque<std::vector<std::unique_ptr<Op>>> ready;
    {
      std::unique_lock<std::mutex> lock(done_mu_);
      done_cv_.wait(lock, [this] { return done_stopping_ || !done_.empty(); });
      if (done_.empty()) return;  // stopping and drained
      ready.swap(done_);
      completing_ = true;
    }
    for (auto& ops : ready)
      for (auto& op : ops)
        if (op) op->complete();
    std::lock_guard<std::mutex> lock(done_mu_);
    completing_ = false;
  }
}

bool GroupCommit::run_batch(std::vector<std::unique_ptr<Op>>& ops) {
  Status st = book_->begin(clock_.now_unix_ms());
  if (!st.ok()) {
    book_->rollback();
    for (auto& op : ops) op->fail(st.error());
    return true;  // nothing to isolate: the transaction never started
  }
  for (auto& op : ops) {
    if (op->apply(*book_)) {
      book_->rollback();
      return false;  // alone in the batch, its own error is the answer
    }
  }
  const std::int64_t commit_start = steady_us();
  st = book_->commit();
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t took = steady_us() - commit_start;
    stats_.commit_us += took;
    stats_.commits.add(took);
  }
  if (!st.ok()) {
    book_->rollback();
    for (auto& op : ops) op->fail(st.error());
    return true;
  }
  return true;
}

}  // namespace perdiem::wallet
