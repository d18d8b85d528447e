// The scheduler: many agents on a few event-loop threads.
//
// Each loop thread is an http::EventLoop (one libcurl multi handle, timers, posted
// functions). An agent lives on one loop for its whole life: its Lua state is only ever
// touched there. The scheduler resumes the agent's PlanTask until the plan waits, hands
// the wait to the agent's owner (serve), and resumes the task when the owner says the
// answer is in, so an agent waiting on a model call or a sleep costs a parked coroutine
// and no thread. Sleeps are timers the scheduler keeps itself; a cancelled agent's sleep
// ends within kCancelSweep.
//
// The owner (the runtime) decides how each wait is answered: asynchronously on the loop
// (a model call whose provider has an asynchronous path, a sub-agent's await), or on a
// thread of its own for what can only block (host-app callbacks, tools). Serving must not block
// the loop thread for long: every agent on that loop waits meanwhile.
//
// Thread-safety: start() and the counters from any thread. Agent's member functions are
// called on its loop thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/http/event_loop.hpp"
#include "runtime/lua/plan_task.hpp"

namespace perdiem::scheduler {

// How often a loop looks for cancelled agents among those asleep.
inline constexpr std::chrono::milliseconds kCancelSweep{20};
// How long one agent's Lua runs before the agents behind it on its loop get a turn: a
// plan busy computing is preempted (PlanLimits::time_slice), not left to starve them.
inline constexpr std::chrono::milliseconds kTimeSlice{5};

// One agent, as its owner presents it to the scheduler.
class Agent {
 public:
  virtual ~Agent() = default;
  // Once, first: sets up the run and returns the task to drive, owned by the agent and
  // alive until finished(). The task should be made with PlanLimits::time_slice
  // (kTimeSlice), or one busy plan holds its loop until it waits. Null when the run ended before
  // its plan could start (its result is already known); finished() is still called, with no
  // outcome.
  virtual lua::PlanTask* start(http::EventLoop& loop) = 0;
  // Answers the task's current wait (any but `sleep`, `preempted` and `finished`), then calls
  // `resume` exactly once, on the loop thread: before returning, or later (from a
  // completion or a posted function).
  virtual void serve(lua::PlanTask& task, http::EventLoop& loop, std::function<void()> resume) = 0;
  // Once, last: the plan ended with `outcome` (empty when start() returned null).
  virtual void finished(std::optional<lua::PlanOutcome> outcome) = 0;
  // Whether the run was cancelled: wakes the agent from a sleep early.
  virtual bool cancelled() const = 0;
};

struct SchedulerOptions {
  // Event-loop threads; 0: one per core (std::thread::hardware_concurrency).
  unsigned threads = 0;
};

class Scheduler {
 public:
  // Starts the loop threads. Throws std::runtime_error when one cannot be created.
  explicit Scheduler(SchedulerOptions options = {});
  // Stops the loops. The owner must have seen every agent finish first: an agent still
  // waiting is dropped unfinished, as EventLoop drops unrun timers.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Runs `agent` on the next loop, round robin.
  void start(std::shared_ptr<Agent> agent);

  std::size_t threads() const { return loops_.size(); }
  // Agents started and not yet finished.
  std::size_t running() const { return running_.load(); }

  struct Loop;  // scheduler.cpp

 private:
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<std::size_t> next_{0};
  std::atomic<std::size_t> running_{0};
};

}  // namespace perdiem::scheduler
