// make_loop_transport: the blocking Transport interface over an EventLoop.
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "runtime/http/event_loop.hpp"

namespace perdiem::http {

namespace {

// One outcome handed from the loop thread to the thread in send(). set() notifies
// while it holds the lock, so once wait() returns, set() no longer touches the
// waiter and send() may destroy it (a std::promise makes no such promise).
class Waiter {
 public:
  void set(Outcome outcome) {
    std::lock_guard lock(mutex_);
    outcome_.emplace(std::move(outcome));
    ready_.notify_one();
  }
  Outcome wait() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return outcome_.has_value(); });
    return std::move(*outcome_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<Outcome> outcome_;
};

class LoopTransport final : public Transport {
 public:
  explicit LoopTransport(std::shared_ptr<EventLoop> loop) : loop_(std::move(loop)) {}

  Result<Response> send(const Request& request) override {
    if (loop_->in_loop_thread()) {
      return make_error(ErrorKind::internal,
                        "a blocking HTTP send() from the event loop's own thread would never "
                        "return: submit() the request instead");
    }
    Waiter waiter;
    loop_->submit(request, [&waiter](Outcome done) { waiter.set(std::move(done)); });
    return waiter.wait().take();
  }

 private:
  const std::shared_ptr<EventLoop> loop_;
};

}  // namespace

std::unique_ptr<Transport> make_loop_transport(std::shared_ptr<EventLoop> loop) {
  return std::make_unique<LoopTransport>(std::move(loop));
}

}  // namespace perdiem::http
