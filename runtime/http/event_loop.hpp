// One thread, one libcurl multi handle, many HTTP transfers: the event loop model calls
// run on, so a thousand calls in flight cost one thread rather than a thousand.
//
// The loop thread owns the multi handle and drives every transfer with
// curl_multi_poll / curl_multi_perform / curl_multi_info_read. Other threads hand it
// work with submit(), post() and post_after(), which queue and wake it
// (curl_multi_wakeup) and never wait for I/O. Connections live in the multi handle's
// cache: consecutive transfers to a host reuse them, and HTTP/2 servers carry many
// transfers on one connection (CURLPIPE_MULTIPLEX, with PIPEWAIT for https).
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "perdiem/error.hpp"
#include "runtime/http/transport.hpp"

namespace perdiem::http {

struct EventLoopOptions {
  // Connections open to one host at once (CURLMOPT_MAX_HOST_CONNECTIONS); transfers
  // beyond it wait in libcurl for one to free up. 0, the default, sets no limit: an
  // HTTP/1.1 server needs one connection per transfer in flight, while an HTTP/2
  // server multiplexes them over a few.
  long max_host_connections = 0;
  // Idle connections kept open for reuse once their transfer is done
  // (CURLMOPT_MAXCONNECTS); the oldest is closed beyond it. libcurl's default would
  // keep four per transfer ever added at once: thousands after a burst.
  long max_idle_connections = 256;
};

// What became of one transfer.
struct Outcome {
  // The Response, or the Error Transport::send() documents (timeout, transport,
  // bad_response, cancelled); `cancelled` too when the loop shut down first.
  Result<Response> result;
  // Set when on_head or on_body_chunk threw: the transfer was stopped, `result` is a
  // cancelled error, and this is the exception, for the completion to rethrow.
  std::exception_ptr thrown{};

  // `result`, or rethrows `thrown`.
  Result<Response> take() &&;
};

// Runs on the loop thread, once per submitted transfer.
using Completion = std::function<void(Outcome outcome)>;

// Work that must hear its end whatever happens: runs once on the loop thread, with
// `cancelled` true when the loop shut down before the work was due.
using Settle = std::function<void(bool cancelled)>;

class Handoff;

// Thread-safety: every member function may be called from any thread, the loop thread
// included (from a completion, a callback, a posted function or a settle), except the
// destructor (see there). Completions, streaming callbacks, posted functions and settles
// all run on the loop thread, one at a time: they must not block, and an exception escaping a
// completion or a posted function ends the process, as it would escaping any thread.
class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts the loop thread. Throws std::runtime_error when libcurl cannot create a
  // multi handle (out of memory).
  explicit EventLoop(EventLoopOptions options = {});
  // Stops the loop: transfers still queued or in flight complete with `cancelled`
  // (their completions run, on the loop thread), post()/post_after() functions not yet
  // run are dropped unrun, settles (post_after_or_cancel, expect) still pending run with
  // cancelled = true, then the thread is joined. Destroyed from its own thread (the last
  // reference dropped in a completion), it lets the thread finish alone instead.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Starts `request`; `done` receives its outcome. Never blocks on I/O: the easy handle
  // is configured here, on the calling thread, and queued for the loop.
  // request.bearer_token is read here only (the credential header is built now, in
  // locked memory). on_head and on_body_chunk run on the loop thread; one returning
  // false or throwing stops only its own transfer (Outcome::thrown carries the
  // exception). Timeouts, limits and error messages are those of make_curl_transport().
  void submit(Request request, Completion done);

  // Runs `fn` on the loop thread soon, after functions posted before it.
  void post(std::function<void()> fn);
  // Runs `fn` on the loop thread once `delay` has passed; timers due at the same time
  // run in the order they were posted.
  void post_after(std::chrono::milliseconds delay, std::function<void()> fn);

  // As post_after, but `fn` runs once whatever happens: fn(false) when due, or
  // fn(true) as the loop shuts down if that comes first, also when posted during the
  // shutdown (from a completion or another settle). For ends that must not be lost: a
  // model call's completion. 10,000 pending timers cost O(log n) each (a heap).
  void post_after_or_cancel(std::chrono::milliseconds delay, Settle fn);

  // Registers `fn` for work another thread does: fn(false) runs on the loop thread
  // after the returned Handoff's complete(), or fn(true) when the loop shuts down
  // before that. Exactly once either way. A Handoff dropped without complete() keeps
  // `fn` until the shutdown.
  Handoff expect(Settle fn);

  // True on the loop thread.
  bool in_loop_thread() const;

 private:
  friend class Handoff;
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with the loop thread, which may outlive *this
  std::thread thread_;
};

// The loop's side of work done off the loop (a blocking call on a worker thread) whose
// end must run on the loop: see EventLoop::expect(). Movable; may outlive the EventLoop.
class Handoff {
 public:
  Handoff() = default;
  // Runs the expected function, settle(false), on the loop thread soon (after what was
  // posted before). Does nothing when the loop already ran it as settle(true) (it shut
  // down first) or is gone, or on a second call. Any thread.
  void complete();

 private:
  friend class EventLoop;
  Handoff(std::weak_ptr<EventLoop::Impl> loop, std::uint64_t id)
      : loop_(std::move(loop)), id_(id) {}
  std::weak_ptr<EventLoop::Impl> loop_;
  std::uint64_t id_ = 0;
};

// A Transport whose send() submits to `loop` and waits for the outcome, so every
// adapter runs over the loop unchanged. Differences from make_curl_transport(): on_head
// and on_body_chunk run on the loop thread (send()'s caller waits meanwhile), and
// send() from the loop thread itself fails as `internal` instead of deadlocking.
// `loop` must not be null.
std::unique_ptr<Transport> make_loop_transport(std::shared_ptr<EventLoop> loop);

}  // namespace perdiem::http
