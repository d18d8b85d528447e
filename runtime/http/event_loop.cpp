#include "runtime/http/event_loop.hpp"

#include <curl/curl.h>
#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "runtime/http/easy_exchange.hpp"
#include "runtime/http/url.hpp"

namespace perdiem::http {

Result<Response> Outcome::take() && {
  if (thrown) std::rethrow_exception(thrown);
  return std::move(result);
}

namespace {

using Clock = EventLoop::Clock;

// libcurl calls the progress callback, which checks the first-byte and idle timeouts,
// on every curl_multi_perform: the loop wakes at least this often while transfers run.
constexpr int kProgressTickMs = 1000;
// Nothing to do: sleep until woken.
constexpr int kIdleWaitMs = 60'000;
// Easy handles kept, reset, for the next submit(): creating and freeing one per
// transfer costs more than resetting it.
constexpr std::size_t kSpareHandles = 64;

// One transfer: the request it owns, its easy handle and the state its callbacks use.
struct Transfer {
  Request request;
  Completion done;
  Exchange exchange;
  HeaderList headers;
  std::optional<Error> setup_error;

  ~Transfer() {
    if (exchange.handle != nullptr) curl_easy_cleanup(exchange.handle);
  }
};

// Either `fn` (post, post_after: dropped at shutdown) or `settle` (run with
// cancelled = true at shutdown) is set.
struct Timer {
  Clock::time_point due;
  std::uint64_t order;
  std::function<void()> fn;
  Settle settle{};

  void run() {
    if (settle) {
      settle(false);
    } else {
      fn();
    }
  }
};

struct Later {
  bool operator()(const Timer& a, const Timer& b) const {
    return a.due != b.due ? a.due > b.due : a.order > b.order;
  }
};

Error shut_down(const Request& request) {
  return make_error(ErrorKind::cancelled, "the transfer to " + display_url(request.url) +
                                              " was cancelled: its event loop shut down");
}

}  // namespace

struct EventLoop::Impl {
  CURLM* multi = nullptr;

  // Shared with submitting threads, under `mutex`.
  std::mutex mutex;
  std::vector<std::unique_ptr<Transfer>> inbox;
  std::vector<Timer> new_timers;
  std::uint64_t next_order = 0;
  // expect()'s functions awaiting their Handoff::complete(), by id.
  std::unordered_map<std::uint64_t, Settle> expected;
  std::uint64_t next_expected = 0;
  bool stopping = false;
  // The shutdown is over: nothing queued from now on will run.
  bool finished = false;
  // The loop is in (or about to enter) curl_multi_poll with nothing queued: the next
  // submitter wakes it. Otherwise it looks at the queues before it polls again, and a
  // wake-up (a write and a read on a socket pair) would be wasted.
  bool asleep = false;
  std::vector<CURL*> spare_handles;

  // The loop thread's own.
  std::unordered_set<Transfer*> active;  // owned; in the multi handle
  std::priority_queue<Timer, std::vector<Timer>, Later> timers;

  ~Impl() {
    for (CURL* handle : spare_handles) curl_easy_cleanup(handle);
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  // A fresh or reset easy handle; nullptr when libcurl cannot allocate one.
  CURL* take_handle() {
    CURL* handle = nullptr;
    {
      std::lock_guard lock(mutex);
      if (!spare_handles.empty()) {
        handle = spare_handles.back();
        spare_handles.pop_back();
      }
    }
    if (handle == nullptr) return curl_easy_init();
    curl_easy_reset(handle);
    return handle;
  }

  // Takes the handle of a finished transfer (out of the multi handle) back.
  void recycle(Transfer& transfer) {
    CURL* handle = std::exchange(transfer.exchange.handle, nullptr);
    if (handle == nullptr) return;
    {
      std::lock_guard lock(mutex);
      if (spare_handles.size() < kSpareHandles) {
        spare_handles.push_back(handle);
        return;
      }
    }
    curl_easy_cleanup(handle);
  }

  void wake() { curl_multi_wakeup(multi); }

  // Queues under the lock, then wakes the loop if it sleeps.
  void enqueue(std::unique_ptr<Transfer> transfer) {
    bool sleeping = false;
    {
      std::lock_guard lock(mutex);
      inbox.push_back(std::move(transfer));
      sleeping = std::exchange(asleep, false);
    }
    if (sleeping) wake();
  }

  void enqueue(Timer timer) {
    bool sleeping = false;
    {
      std::lock_guard lock(mutex);
      if (finished) return;  // only after the EventLoop's destruction began
      timer.order = next_order++;
      new_timers.push_back(std::move(timer));
      sleeping = std::exchange(asleep, false);
    }
    if (sleeping) wake();
  }

  std::uint64_t expect(Settle fn) {
    std::lock_guard lock(mutex);
    const std::uint64_t id = next_expected++;
    expected.emplace(id, std::move(fn));
    return id;
  }

  // Handoff::complete(): the expected function becomes a timer due now.
  // Under one lock, so a shutdown sees the function in one of its two places.
  void complete(std::uint64_t id) {
    bool sleeping = false;
    {
      std::lock_guard lock(mutex);
      auto it = expected.find(id);
      if (it == expected.end()) return;
      new_timers.push_back(Timer{Clock::now(), next_order++, {}, std::move(it->second)});
      expected.erase(it);
      sleeping = std::exchange(asleep, false);
    }
    if (sleeping) wake();
  }

  // How long to poll: 0 when work arrived since the queues were emptied.
  int poll_ms() {
    const int wait = wait_ms();
    std::lock_guard lock(mutex);
    if (!inbox.empty() || !new_timers.empty() || stopping) return 0;
    asleep = true;
    return wait;
  }

  void run() {
    for (;;) {
      std::vector<std::unique_ptr<Transfer>> arrived;
      std::vector<Timer> timed;
      bool stop = false;
      {
        std::lock_guard lock(mutex);
        arrived.swap(inbox);
        timed.swap(new_timers);
        stop = stopping;
        asleep = false;
      }
      if (stop) {
        for (auto& timer : timed) timers.push(std::move(timer));  // settled by shutdown()
        for (auto& transfer : arrived) cancel(std::move(transfer));
        break;
      }
      for (auto& timer : timed) timers.push(std::move(timer));
      for (auto& transfer : arrived) start(std::move(transfer));
      run_due_timers();
      int running = 0;
      curl_multi_perform(multi, &running);
      collect_finished();
      curl_multi_poll(multi, nullptr, 0, poll_ms(), nullptr);
    }
    shutdown();
  }

  void start(std::unique_ptr<Transfer> transfer) {
    if (transfer->setup_error) {
      Transfer& t = *transfer;
      t.done(Outcome{std::move(*t.setup_error)});
      return;
    }
    transfer->exchange.started = Clock::now();
    if (curl_multi_add_handle(multi, transfer->exchange.handle) != CURLM_OK) {
      Transfer& t = *transfer;
      t.done(Outcome{make_error(ErrorKind::internal, "libcurl could not start the transfer to " +
                                                         display_url(t.request.url))});
      return;
    }
    active.insert(transfer.release());
  }

  void run_due_timers() {
    const auto now = Clock::now();
    while (!timers.empty() && timers.top().due <= now) {
      // top() is const: the function is moved out through a copy of the node.
      Timer timer = std::move(const_cast<Timer&>(timers.top()));
      timers.pop();
      timer.run();
    }
  }

  void collect_finished() {
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* handle = message->easy_handle;
      const CURLcode code = message->data.result;
      char* user = nullptr;
      curl_easy_getinfo(handle, CURLINFO_PRIVATE, &user);
      curl_multi_remove_handle(multi, handle);
      auto* raw = reinterpret_cast<Transfer*>(user);
      active.erase(raw);
      std::unique_ptr<Transfer> transfer(raw);
      transfer->done(outcome_of(transfer->exchange, code));
      recycle(*transfer);
    }
  }

  static Outcome outcome_of(Exchange& exchange, CURLcode code) {
    if (exchange.thrown) return Outcome{exchange_failure(exchange, code), exchange.thrown};
    try {
      return Outcome{finish_exchange(exchange, code)};
    } catch (...) {  // on_head, for an empty body, runs here rather than inside libcurl
      exchange.stop = Stop::refused;
      return Outcome{exchange_failure(exchange, code), std::current_exception()};
    }
  }

  int wait_ms() {
    int wait = active.empty() ? kIdleWaitMs : kProgressTickMs;
    if (!timers.empty()) {
      const auto until =
          std::chrono::ceil<std::chrono::milliseconds>(timers.top().due - Clock::now());
      wait = static_cast<int>(std::clamp<std::int64_t>(until.count(), 0, wait));
    }
    return wait;
  }

  // Cancels everything, including what completions and settles submit meanwhile.
  void shutdown() {
    for (;;) {
      std::vector<std::unique_ptr<Transfer>> arrived;
      std::vector<Timer> timed;
      std::unordered_map<std::uint64_t, Settle> unfinished;
      while (!timers.empty()) {
        timed.push_back(std::move(const_cast<Timer&>(timers.top())));
        timers.pop();
      }
      {
        std::lock_guard lock(mutex);
        arrived.swap(inbox);
        for (Timer& timer : new_timers) timed.push_back(std::move(timer));
        new_timers.clear();
        unfinished.swap(expected);
        if (arrived.empty() && active.empty() && timed.empty() && unfinished.empty()) {
          finished = true;
          break;
        }
      }
      for (auto& transfer : arrived) cancel(std::move(transfer));
      std::vector<Transfer*> running(active.begin(), active.end());
      active.clear();
      for (Transfer* raw : running) {
        curl_multi_remove_handle(multi, raw->exchange.handle);
        cancel(std::unique_ptr<Transfer>(raw));
      }
      for (Timer& timer : timed) {
        if (timer.settle) timer.settle(true);  // plain posts are dropped unrun
      }
      for (auto& [id, fn] : unfinished) fn(true);
    }
  }

  static void cancel(std::unique_ptr<Transfer> transfer) {
    Error error =
        transfer->setup_error ? std::move(*transfer->setup_error) : shut_down(transfer->request);
    transfer->done(Outcome{std::move(error)});
  }
};

EventLoop::EventLoop(EventLoopOptions options) : impl_(std::make_shared<Impl>()) {
  ensure_curl_initialized();
  impl_->multi = curl_multi_init();
  if (impl_->multi == nullptr) throw std::runtime_error("libcurl could not create a multi handle");
  curl_multi_setopt(impl_->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, options.max_idle_connections);
  thread_ = std::thread([impl = impl_] {
    pthread_setname_np(pthread_self(), "perdiem-http");  // for top, perf and gdb
    impl->run();
  });
}

EventLoop::~EventLoop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake();
  if (in_loop_thread()) {
    thread_.detach();  // the thread cancels what is left and frees impl_ as it leaves
  } else {
    thread_.join();
  }
}

void EventLoop::submit(Request request, Completion done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  Exchange& exchange = transfer->exchange;
  exchange.request = &transfer->request;
  exchange.handle = impl_->take_handle();
  if (exchange.handle == nullptr) {
    transfer->setup_error.emplace(
        make_error(ErrorKind::internal, "libcurl could not create a handle"));
  } else {
    configure_exchange(exchange, transfer->headers);
    curl_easy_setopt(exchange.handle, CURLOPT_PRIVATE, transfer.get());
    // Over TLS, wait for a connection that may turn out to multiplex (HTTP/2) rather
    // than open one more per transfer started meanwhile.
    if (transfer->request.url.starts_with("https:")) {
      curl_easy_setopt(exchange.handle, CURLOPT_PIPEWAIT, 1L);
    }
  }
  transfer->request.bearer_token = nullptr;  // not kept: the caller's buffer may go
  impl_->enqueue(std::move(transfer));
}

void EventLoop::post(std::function<void()> fn) {
  post_after(std::chrono::milliseconds(0), std::move(fn));
}

void EventLoop::post_after(std::chrono::milliseconds delay, std::function<void()> fn) {
  impl_->enqueue(Timer{Clock::now() + delay, 0, std::move(fn)});
}

void EventLoop::post_after_or_cancel(std::chrono::milliseconds delay, Settle fn) {
  impl_->enqueue(Timer{Clock::now() + delay, 0, {}, std::move(fn)});
}

Handoff EventLoop::expect(Settle fn) {
  return Handoff(impl_, impl_->expect(std::move(fn)));
}

void Handoff::complete() {
  if (std::shared_ptr<EventLoop::Impl> loop = std::exchange(loop_, {}).lock()) loop->complete(id_);
}

bool EventLoop::in_loop_thread() const {
  return std::this_thread::get_id() == thread_.get_id();
}

}  // namespace perdiem::http
