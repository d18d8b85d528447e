// Helpers for start_chat tests: a record of each call's end (how many times `done` ran,
// on which thread, whether inside start_chat), and a server-side peak counter.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/http/event_loop.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers::testing {

// Set on a thread while it is inside start_chat (so `done` can tell it was not).
inline thread_local bool inside_start_chat = false;

// Starts `request` on `provider` marking the calling thread as inside start_chat.
inline void start_marked(Provider& provider, const ChatRequest& request, ChatCall& call,
                         http::EventLoop& loop, ChatDone done) {
  inside_start_chat = true;
  provider.start_chat(request, call, loop, std::move(done));
  inside_start_chat = false;
}

// The ends of `n` asynchronous calls, by index.
class Ends {
 public:
  Ends(std::size_t n, http::EventLoop& loop) : loop_(loop), slots_(n), times_(n), counts_(n, 0) {}

  ChatDone slot(std::size_t i) {
    return [this, i](Result<ChatResponse> result) {
      std::lock_guard lock(mutex_);
      if (!loop_.in_loop_thread()) ++off_loop_;
      if (inside_start_chat) ++inside_;
      if (counts_[i]++ == 0) {
        slots_[i].emplace(std::move(result));
        times_[i] = std::chrono::steady_clock::now();
        ++done_;
      }
      cv_.notify_all();
    };
  }
  bool wait_all(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [this] { return done_ == slots_.size(); });
  }
  Result<ChatResponse>& operator[](std::size_t i) {
    std::lock_guard lock(mutex_);
    REQUIRE(slots_[i].has_value());
    return *slots_[i];
  }
  std::chrono::steady_clock::time_point time(std::size_t i) {
    std::lock_guard lock(mutex_);
    return times_[i];
  }
  std::size_t done() {
    std::lock_guard lock(mutex_);
    return done_;
  }
  // Every call ended exactly once, on the loop thread, never inside start_chat.
  void check_once_on_loop() {
    std::lock_guard lock(mutex_);
    CHECK(off_loop_ == 0);
    CHECK(inside_ == 0);
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      CAPTURE(i);
      CHECK(counts_[i] == 1);
    }
  }

 private:
  http::EventLoop& loop_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::optional<Result<ChatResponse>>> slots_;
  std::vector<std::chrono::steady_clock::time_point> times_;
  std::vector<int> counts_;
  std::size_t done_ = 0;
  int off_loop_ = 0;
  int inside_ = 0;
};

// Requests inside a server handler at once, and the most there ever were.
class InFlight {
 public:
  void enter() {
    std::lock_guard lock(mutex_);
    peak_ = std::max(peak_, ++inside_);
  }
  void leave() {
    std::lock_guard lock(mutex_);
    --inside_;
  }
  int peak() {
    std::lock_guard lock(mutex_);
    return peak_;
  }

 private:
  std::mutex mutex_;
  int inside_ = 0;
  int peak_ = 0;
};

inline ChatRequest user_says(std::string text, std::string model = "m-1") {
  ChatRequest request;
  request.model = std::move(model);
  request.messages = {{"user", std::move(text)}};
  return request;
}

}  // namespace perdiem::providers::testing
