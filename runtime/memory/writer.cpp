#include "runtime/memory/writer.hpp"

#include <pthread.h>

#include <algorithm>

namespace perdiem::memory {

Writer::Writer(std::unique_ptr<sql::Db> db, std::size_t max_batch, std::size_t max_queued,
               std::chrono::microseconds linger)
    : db_(std::move(db)),
      max_batch_(max_batch ? max_batch : 1),
      max_queued_(max_queued ? max_queued : 1),
      linger_(linger),
      thread_([this] { run(); }) {}

Writer::~Writer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

void Writer::enqueue(Item item) {
  std::unique_lock lock(mu_);
  space_cv_.wait(lock, [&] { return queue_.size() < max_queued_ || stopping_; });
  const bool was_empty = queue_.empty();
  if (item.done) ++waiters_;
  queue_.push_back(std::move(item));
  // The writer sleeps only on an empty queue, or lingers on a short one: wake it only
  // for work it cannot know of or to end its linger, so a fast producer's post is not a
  // futex wake each time.
  const bool wake = lingering_ ? batch_ready() : was_empty;
  lock.unlock();
  if (wake) work_cv_.notify_one();
}

bool Writer::batch_ready() const {
  return stopping_ || waiters_ > 0 || queue_.size() >= std::min(max_batch_, max_queued_);
}

void Writer::post(Op op) {
  enqueue(Item{std::move(op), nullptr, false, {}});
}

Status Writer::call(Op op) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  enqueue(Item{std::move(op), done, false, {}});
  return future.get();
}

Status Writer::call_alone(Op op) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  enqueue(Item{std::move(op), done, true, {}});
  return future.get();
}

Status Writer::flush() {
  Status st = call([](sql::Db&) { return Status(); });
  std::lock_guard lock(mu_);
  if (post_error_) {
    Status first(*post_error_);
    post_error_.reset();
    return first;
  }
  return st;
}

Writer::Stats Writer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Writer::run() {
  ::pthread_setname_np(::pthread_self(), "perdiem-memory");  // for top, perf and gdb
  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything is applied
      if (linger_.count() > 0 && !batch_ready()) {
        lingering_ = true;
        work_cv_.wait_for(lock, linger_, [&] { return batch_ready(); });
        lingering_ = false;
      }
      // A batch is everything queued, up to max_batch, stopping before an item that must
      // run alone (or holding just that item).
      if (queue_.front().alone) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      } else {
        while (!queue_.empty() && batch.size() < max_batch_ && !queue_.front().alone) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      for (const Item& item : batch)
        if (item.done) --waiters_;
    }
    space_cv_.notify_all();
    apply(batch);
    finish(batch);
    batch.clear();
  }
}

Status Writer::apply_in_transaction(std::vector<Item>& items, std::size_t from, std::size_t to) {
  auto tx = sql::Transaction::begin(*db_, true);
  if (!tx) return tx.error();
  for (std::size_t i = from; i < to; ++i) {
    items[i].status = items[i].fn(*db_);
    if (!items[i].status.ok()) return items[i].status;  // the transaction rolls back
  }
  return (*tx)->commit();
}

void Writer::apply(std::vector<Item>& batch) {
  if (batch.size() == 1 && batch.front().alone) {
    batch.front().status = batch.front().fn(*db_);
    return;
  }
  Status st = apply_in_transaction(batch, 0, batch.size());
  if (st.ok()) return;
  bool an_op_failed = false;
  for (const Item& item : batch) an_op_failed = an_op_failed || !item.status.ok();
  if (batch.size() == 1 || !an_op_failed) {
    // BEGIN or COMMIT failed (busy past the timeout, disk full): nothing was written,
    // and re-running each alone would only wait out the timeout once per operation.
    for (Item& item : batch) item.status = st;
    return;
  }
  // Something failed: isolate it. Each operation runs in its own transaction, so the
  // others commit and only the failing one reports its error.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Status one = apply_in_transaction(batch, i, i + 1);
    if (!one.ok()) batch[i].status = one;
  }
}

void Writer::finish(std::vector<Item>& batch) {
  {
    std::lock_guard lock(mu_);
    ++stats_.batches;
    stats_.operations += batch.size();
    for (const Item& item : batch) {
      if (!item.done && !item.status.ok()) {
        ++stats_.failed_posts;
        if (!post_error_) post_error_ = item.status.error();
      }
    }
  }
  for (Item& item : batch)
    if (item.done) item.done->set_value(item.status);
}

}  // namespace perdiem::memory
