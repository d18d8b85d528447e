// Scheduler: round-robin placement, the resume loop, and sleeps as timers.
#include "runtime/scheduler/scheduler.hpp"

#include <algorithm>
#include <thread>
#include <unordered_map>

namespace perdiem::scheduler {

namespace {

// An agent as its loop drives it.
struct Driven {
  std::shared_ptr<Agent> agent;
  lua::PlanTask* task = nullptr;
  std::uint64_t sleep_id = 0;  // which sleep a timer belongs to
};

// post_after counts whole milliseconds: round up, so a sleep is never short.
std::chrono::milliseconds whole_ms(std::chrono::nanoseconds duration) {
  return std::chrono::ceil<std::chrono::milliseconds>(duration);
}

}  // namespace

struct Scheduler::Loop {
  std::atomic<std::size_t>& running;
  std::shared_ptr<http::EventLoop> loop = std::make_shared<http::EventLoop>();
  // Agents asleep on this loop, by their sleep id; touched on the loop thread only.
  std::unordered_map<std::uint64_t, std::shared_ptr<Driven>> sleepers;
  std::uint64_t next_sleep_id = 0;
  bool sweeping = false;

  explicit Loop(std::atomic<std::size_t>& counter) : running(counter) {}

  void begin(std::shared_ptr<Agent> agent) {
    auto driven = std::make_shared<Driven>();
    driven->agent = std::move(agent);
    driven->task = driven->agent->start(*loop);
    if (driven->task == nullptr) {
      end(*driven, std::nullopt);
      return;
    }
    drive(driven);
  }

  void end(Driven& driven, std::optional<lua::PlanOutcome> outcome) {
    driven.agent->finished(std::move(outcome));
    driven.agent.reset();  // the owner may free the task now
    driven.task = nullptr;
    running.fetch_sub(1);
  }

  // Resumes the task until it waits for something that is not answered at once.
  void drive(const std::shared_ptr<Driven>& driven) {
    for (;;) {
      const lua::PlanWait wait = driven->task->resume();
      if (wait == lua::PlanWait::finished) {
        end(*driven, driven->task->take_outcome());
        return;
      }
      if (wait == lua::PlanWait::sleep) {
        sleep(driven);
        return;
      }
      if (wait == lua::PlanWait::preempted) {  // a busy plan: the others' turn first
        loop->post([this, driven] { drive(driven); });
        return;
      }
      // serve() may answer before it returns (then the loop goes on here, without
      // growing the stack) or later, from a completion on this loop thread (then the
      // plan is driven on from there).
      struct Served {
        bool returned = false;
        bool answered = false;
      };
      auto served = std::make_shared<Served>();
      driven->agent->serve(*driven->task, *loop, [this, driven, served] {
        served->answered = true;
        if (served->returned) drive(driven);
      });
      served->returned = true;
      if (!served->answered) return;
    }
  }

  void sleep(const std::shared_ptr<Driven>& driven) {
    const std::uint64_t id = ++next_sleep_id;
    driven->sleep_id = id;
    sleepers.emplace(id, driven);
    loop->post_after(whole_ms(driven->task->sleep_duration()), [this, id] { wake(id); });
    if (!sweeping) {
      sweeping = true;
      loop->post_after(kCancelSweep, [this] { sweep(); });
    }
  }

  void wake(std::uint64_t id) {
    auto found = sleepers.find(id);
    if (found == sleepers.end()) return;  // woken already (cancelled)
    std::shared_ptr<Driven> driven = std::move(found->second);
    sleepers.erase(found);
    driven->task->answer_sleep();
    drive(driven);
  }

  // Wakes the cancelled sleepers (the plan then ends with kind `cancelled`); runs while
  // anyone sleeps.
  void sweep() {
    std::vector<std::uint64_t> cancelled;
    for (const auto& [id, driven] : sleepers) {
      if (driven->agent->cancelled()) cancelled.push_back(id);
    }
    for (std::uint64_t id : cancelled) wake(id);
    sweeping = !sleepers.empty();
    if (sweeping) loop->post_after(kCancelSweep, [this] { sweep(); });
  }
};

Scheduler::Scheduler(SchedulerOptions options) {
  unsigned threads = options.threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  loops_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) loops_.push_back(std::make_unique<Loop>(running_));
}

Scheduler::~Scheduler() {
  // Each loop's thread is joined here, before the sleepers it refers to are freed.
  for (auto& loop : loops_) loop->loop.reset();
}

void Scheduler::start(std::shared_ptr<Agent> agent) {
  running_.fetch_add(1);
  Loop& loop = *loops_[next_.fetch_add(1) % loops_.size()];
  loop.loop->post([&loop, agent = std::move(agent)]() mutable { loop.begin(std::move(agent)); });
}

}  // namespace perdiem::scheduler
