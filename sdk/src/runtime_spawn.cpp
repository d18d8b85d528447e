// agent.spawn: a sub-agent is a run of its own (own sandbox, run id, trace) started from
// inside a parent's run as an agent on the runtime's scheduler, with the parent's grants
// and limits. It holds no thread: sixty sub-agents of one plan, or a sub-agent for each of
// a thousand scheduled runs, share the loop threads every other agent runs on.
//
// Budgets: the sub-agent's budget is carved from the parent's. While it runs, the
// parent's run limit is lowered by the carved amount; when it is awaited (or the parent
// ends) the parent gets back what it did not spend. The wallet enforces each run's limit
// atomically, so a parent and its sub-agents together never pass the parent's budget.
//
// Lifetime: a sub-agent the parent did not await is cancelled when the parent's plan
// ends, and the parent's run waits for it, so nothing outlives the run that started it.
#include <chrono>

#include "runtime/http/event_loop.hpp"
#include "sdk/src/runtime_impl.hpp"

namespace perdiem::sdk {

namespace {

// Sub-agents may spawn sub-agents, to this depth: a plan that spawns itself stops here.
constexpr int kMaxSpawnDepth = 4;
// Sub-agents one run may start in all.
constexpr std::size_t kMaxChildren = 64;

}  // namespace

struct RuntimeImpl::SubAgent {
  RunOptions options;
  std::optional<Nanos> carved;            // taken from the parent's limit; refunded at the end
  std::shared_ptr<BackgroundRun> handle;  // the running sub-agent; set once it has started
  std::optional<RunResult> result;        // once awaited
  bool settled = false;                   // the carve has been refunded
};

Result<std::string> RuntimeImpl::spawn(Run& parent, const lua::SpawnRequest& request) {
  if (parent.depth + 1 > kMaxSpawnDepth) {
    return make_error(ErrorKind::limit, "sub-agents may nest " + std::to_string(kMaxSpawnDepth) +
                                            " deep at most; this one would be deeper");
  }
  auto child = std::make_shared<SubAgent>();
  child->options = *parent.options;
  child->options.args = request.args;
  if (request.timeout.count() > 0) child->options.timeout = request.timeout;
  // Never past the parent's own deadline: a child of a run with 1 s left gets 1 s.
  if (parent.deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        *parent.deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return make_error(ErrorKind::timeout, "the run's deadline has passed");
    }
    if (child->options.timeout.count() == 0 || child->options.timeout > left) {
      child->options.timeout = left;
    }
  }
  if (request.max_steps > 0) child->options.max_steps = request.max_steps;
  child->options.budget = request.budget_nanos;
  const std::string run_id = new_run_id();
  {
    std::lock_guard lock(parent.mutex);
    if (parent.children.size() >= kMaxChildren) {
      return make_error(ErrorKind::limit, "a run may start at most " +
                                              std::to_string(kMaxChildren) + " sub-agents");
    }
    if (parent.budgets.run_limit) {
      // The parent's tab was admitted under the budget about to shrink: close it first.
      (void)meter_.flush_run(parent.result.run_id);
      Result<Nanos> spent = wallet_->ledger().spent(parent.result.run_id);
      if (!spent) return spent.error();
      const Nanos left = std::max<Nanos>(0, *parent.budgets.run_limit - *spent);
      const Nanos wanted = request.budget_nanos.value_or(left);
      if (wanted > left) {
        return make_refusal(ErrorKind::budget_exceeded,
                            "the sub-agent's budget of " + format_usd_display(wanted) +
                                " is more than the " + format_usd_display(left) +
                                " this run has left",
                            wanted, left);
      }
      child->carved = wanted;
      child->options.budget = wanted;
      parent.budgets.run_limit = *parent.budgets.run_limit - wanted;
    }
    parent.children[run_id] = child;
  }
  // Started outside the parent's mutex, which is not held across reading the plan file.
  std::shared_ptr<BackgroundRun> handle;
  try {
    handle = start_file_as(run_id, request.path, child->options,
                           {parent.depth + 1, parent.result.run_id});
  } catch (const std::exception& e) {
    // Not started: undo the carve and forget the child, as if never spawned.
    std::lock_guard lock(parent.mutex);
    if (child->carved) parent.budgets.run_limit = *parent.budgets.run_limit + *child->carved;
    parent.children.erase(run_id);
    return make_error(ErrorKind::internal, std::string("cannot start the sub-agent: ") + e.what());
  }
  if (parent.handle != nullptr) parent.handle->adopt(handle);
  std::lock_guard lock(parent.mutex);
  child->handle = std::move(handle);
  return run_id;
}

void RuntimeImpl::await_child_on(Run& parent, const std::string& run_id, http::EventLoop& loop,
                                 std::function<void(Result<lua::SpawnResult>)> answer) {
  std::shared_ptr<BackgroundRun> handle;
  {
    std::lock_guard lock(parent.mutex);
    auto found = parent.children.find(run_id);
    if (found != parent.children.end() && !found->second->result) handle = found->second->handle;
  }
  if (!handle || handle->done()) {
    answer(await_child(parent, run_id));  // unknown, awaited before, or finished: no wait
    return;
  }
  // The parent waits for the handoff, as for a model call: it cannot end meanwhile, so
  // `parent` is alive when the answer runs. If the loop shuts down first (the runtime is
  // going), the parent ends cancelled, and ending it waits for the child (end_children).
  http::Handoff handoff =
      loop.expect([this, &parent, run_id, answer = std::move(answer)](bool shut_down) {
        if (shut_down) {
          answer(make_error(ErrorKind::cancelled,
                            "the wait for sub-agent " + run_id + " ended: the runtime shut down"));
          return;
        }
        answer(await_child(parent, run_id));  // finished: settles its budget, no wait
      });
  handle->on_finish([handoff]() mutable { handoff.complete(); });
}

Result<lua::SpawnResult> RuntimeImpl::await_child(Run& parent, const std::string& run_id) {
  std::shared_ptr<SubAgent> child;
  {
    std::lock_guard lock(parent.mutex);
    auto found = parent.children.find(run_id);
    if (found == parent.children.end()) {
      return make_error(ErrorKind::invalid_argument, "no sub-agent " + run_id + " in this run");
    }
    child = found->second;
  }
  if (!child->handle) {
    return make_error(ErrorKind::internal, "sub-agent " + run_id + " was never started");
  }
  if (!child->result) {
    // Only a parent on the app's thread waits here (a scheduled one is answered through
    // await_child_on once the child has ended). Nothing cancels such a parent, and the
    // child's own deadline is capped at the parent's (spawn), so the child ends in time
    // by itself.
    child->result = child->handle->wait();
  }
  const RunResult& done = *child->result;
  {
    std::lock_guard lock(parent.mutex);
    if (!child->settled) {
      child->settled = true;
      parent.children_cost += done.usage.cost;
      if (child->carved) {
        parent.budgets.run_limit = *parent.budgets.run_limit + (*child->carved - done.usage.cost);
      }
    }
  }
  if (!done.ok()) return *done.error;
  return lua::SpawnResult{done.run_id, done.json, done.usage.cost};
}

bool RuntimeImpl::has_unawaited_children(Run& run) {
  std::lock_guard lock(run.mutex);
  for (const auto& [id, child] : run.children) {
    if (!child->result) return true;
  }
  return false;
}

void RuntimeImpl::end_children(Run& run) {
  std::map<std::string, std::shared_ptr<SubAgent>> children;
  {
    std::lock_guard lock(run.mutex);
    children = run.children;
  }
  // Not awaited: nobody will read their answers. Cancel them all, then wait for each, so
  // stopping takes the longest child's time, not the sum.
  for (auto& [id, child] : children) {
    if (!child->result && child->handle) child->handle->cancel();
  }
  for (auto& [id, child] : children) {
    if (child->result || !child->handle) continue;
    child->result = child->handle->wait();
    std::lock_guard lock(run.mutex);
    if (!child->settled) {
      child->settled = true;
      run.children_cost += child->result->usage.cost;
    }
  }
}

}  // namespace perdiem::sdk
