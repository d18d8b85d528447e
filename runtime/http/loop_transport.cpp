// make_loop_transport: the blocking Transport interface over an EventLoop.
#include <future>
#include <memory>
#include <utility>

#include "runtime/http/event_loop.hpp"

namespace perdiem::http {

namespace {

class LoopTransport final : public Transport {
 public:
  explicit LoopTransport(std::shared_ptr<EventLoop> loop) : loop_(std::move(loop)) {}

  Result<Response> send(const Request& request) override {
    if (loop_->in_loop_thread()) {
      return make_error(ErrorKind::internal,
                        "a blocking HTTP send() from the event loop's own thread would never "
                        "return: submit() the request instead");
    }
    // Shared with the completion, so the promise outlives set_value() even once this
    // thread has its outcome and returns.
    auto promise = std::make_shared<std::promise<Outcome>>();
    std::future<Outcome> outcome = promise->get_future();
    loop_->submit(request, [promise](Outcome done) { promise->set_value(std::move(done)); });
    return outcome.get().take();
  }

 private:
  const std::shared_ptr<EventLoop> loop_;
};

}  // namespace

std::unique_ptr<Transport> make_loop_transport(std::shared_ptr<EventLoop> loop) {
  return std::make_unique<LoopTransport>(std::move(loop));
}

}  // namespace perdiem::http
