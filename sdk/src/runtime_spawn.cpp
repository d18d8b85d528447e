// agent.spawn: a sub-agent is a run of its own (own sandbox, run id, trace) started from
// inside a parent's run on a thread of its own, with the parent's grants and limits.
//
// Budgets: the sub-agent's budget is carved from the parent's. While it runs, the
// parent's run limit is lowered by the carved amount; when it is awaited (or the parent
// ends) the parent gets back what it did not spend. The wallet enforces each run's limit
// atomically, so a parent and its sub-agents together never pass the parent's budget.
//
// Lifetime: a sub-agent the parent did not await is cancelled when the parent's plan
// ends, and the parent's run waits for it, so nothing outlives the run that started it.
#include "sdk/src/runtime_impl.hpp"

namespace perdiem::sdk {

namespace {

// Sub-agents may spawn sub-agents, to this depth: a plan that spawns itself stops here.
constexpr int kMaxSpawnDepth = 4;
// Sub-agents one run may start in all.
constexpr std::size_t kMaxChildren = 64;
// How often an await looks at the parent's cancel flag.
constexpr auto kCancelPoll = std::chrono::milliseconds(20);

}  // namespace

struct RuntimeImpl::SubAgent {
  RunOptions options;
  std::atomic<bool> cancel{false};
  std::optional<Nanos> carved;  // taken from the parent's limit; refunded at the end
  std::future<RunResult> running;
  std::optional<RunResult> result;  // once awaited
  bool settled = false;             // the carve has been refunded
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
      Result<Nanos> spent = wallet_->ledger().spent(parent.result.run_id);
      if (!spent) return spent.error();
      const Nanos left = std::max<Nanos>(0, *parent.budgets.run_limit - *spent);
      const Nanos wanted = request.budget_nanos.value_or(left);
      if (wanted > left) {
        return make_error(ErrorKind::budget_exceeded,
                          "the sub-agent's budget of " + format_usd_display(wanted) +
                              " is more than the " + format_usd_display(left) +
                              " this run has left");
      }
      child->carved = wanted;
      child->options.budget = wanted;
      parent.budgets.run_limit = *parent.budgets.run_limit - wanted;
    }
    parent.children[run_id] = child;
  }
  const int depth = parent.depth + 1;
  child->running = std::async(std::launch::async, [this, child, run_id, path = request.path,
                                                   depth] {
    return run_file_as(run_id, &child->cancel, path, child->options, depth);
  });
  return run_id;
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
  if (!child->result) {
    // The parent's cancellation (Ctrl-C, its deadline's cancel) reaches the child.
    while (child->running.wait_for(kCancelPoll) != std::future_status::ready) {
      if (parent.cancel != nullptr && parent.cancel->load()) child->cancel = true;
    }
    child->result = child->running.get();
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

void RuntimeImpl::end_children(Run& run) {
  std::map<std::string, std::shared_ptr<SubAgent>> children;
  {
    std::lock_guard lock(run.mutex);
    children = run.children;
  }
  for (auto& [id, child] : children) {
    if (child->result) continue;
    child->cancel = true;  // not awaited: nobody will read its answer
    child->result = child->running.get();
    std::lock_guard lock(run.mutex);
    if (!child->settled) {
      child->settled = true;
      run.children_cost += child->result->usage.cost;
    }
  }
}

}  // namespace perdiem::sdk
