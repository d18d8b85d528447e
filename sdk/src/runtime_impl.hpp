// RuntimeImpl: the Runtime behind perdiem::Runtime::create. Its member functions live in
// runtime.cpp (runs: their lifecycle, traces and the host a plan sees), runtime_calls.cpp
// (model calls: metering, routing, fan-out, embeddings) and runtime_tool_calls.cpp
// (tool calls). Internal to sdk/src.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/perdiem.hpp"
#include "runtime/lua/plan.hpp"
#include "runtime/metering/meter.hpp"
#include "runtime/providers/provider_config.hpp"
#include "runtime/router/router.hpp"
#include "sdk/src/scheduled_runs.hpp"
#include "sdk/src/health_store.hpp"
#include "sdk/src/install_paths.hpp"
#include "sdk/src/provider_pool.hpp"
#include "sdk/src/runtime_memory.hpp"
#include "sdk/src/runtime_tools.hpp"
#include "sdk/src/runtime_wallet.hpp"

namespace perdiem::sdk {

struct RouteTrace;  // route_trace.hpp

// A new run's id: "run-" and 16 hex digits from the CSPRNG, unique across runs sharing
// one wallet.db.
std::string new_run_id();

// model.chat_many and tool.run send at most this many calls of one run at once.
constexpr std::size_t kMaxConcurrentCalls = 16;

// call(0) ... call(count - 1), at most kMaxConcurrentCalls at once on threads of their
// own; the results in index order. What model.chat_many and tool.run share.
template <typename Call>
auto run_at_once(std::size_t count, const Call& call) -> std::vector<decltype(call(0))> {
  std::vector<decltype(call(0))> results;
  results.reserve(count);
  for (std::size_t first = 0; first < count; first += kMaxConcurrentCalls) {
    const std::size_t last = std::min(count, first + kMaxConcurrentCalls);
    std::vector<std::future<decltype(call(0))>> running;
    for (std::size_t i = first; i < last; ++i) {
      running.push_back(std::async(std::launch::async, [&call, i] { return call(i); }));
    }
    for (auto& one : running) results.push_back(one.get());
  }
  return results;
}

// Where a run sits among agents: the agent.spawn levels above it (0: a run the app
// started) and the run that spawned it ("" for those).
struct Lineage {
  int depth = 0;
  std::string parent_run_id{};
};

class RuntimeImpl final : public Runtime {
 public:
  RuntimeImpl(RuntimeOptions options, std::string reason, std::string default_model,
              sdk::ProviderPool pool, std::unique_ptr<sdk::RuntimeWallet> wallet,
              std::unique_ptr<sdk::RuntimeMemory> memory, std::unique_ptr<sdk::RuntimeTools> tools)
      : memory_(std::move(memory)),
        tools_(std::move(tools)),
        options_(std::move(options)),
        provider_name_(pool.primary().name),
        reason_(std::move(reason)),
        model_(std::move(default_model)),
        pool_(std::move(pool)),
        wallet_(std::move(wallet)),
        meter_(wallet_->ledger(), wallet_->prices(), meter_options()),
        health_store_(options_.routing.health_path, health_, options_.on_log),
        scheduled_(scheduler::SchedulerOptions{options_.scheduler_threads},
                   [this] { flush_closed(); }) {
    health_store_.load(health_);
    // require "perdiem.react" finds the plan library (installed, or this source tree's).
    if (Result<std::string> scripts = sdk::plan_library_directory()) module_paths_ = {*scripts};
  }

  RunResult run_file(const std::string& path, const RunOptions& options) override;

  RunResult run_script(std::string_view source, std::string_view chunk_name,
                       const RunOptions& options) override {
    return run(new_run_id(), source, chunk_name, {}, options);
  }

  std::shared_ptr<RunHandle> start_file(const std::string& path,
                                        const RunOptions& options) override;

  std::shared_ptr<RunHandle> start_script(std::string source, std::string chunk_name,
                                          const RunOptions& options) override;

  std::vector<ToolInfo> tools() const override { return tools_->list(); }
  std::string provider_name() const override { return provider_name_; }
  std::string provider_reason() const override { return reason_; }
  std::string default_model() const override { return model_; }
  std::vector<ProviderStatus> providers() const override;
  Result<std::vector<PriceEntry>> published_prices(const std::string& provider) override;
  std::string wallet_address() const override { return wallet_->address(); }
  bool wallet_is_ephemeral() const override { return wallet_->is_ephemeral(); }

 private:
  // The plan file as a run on the scheduler: an app's background run (depth 0) or a
  // sub-agent. A file that cannot be read finishes the handle with the error.
  std::shared_ptr<BackgroundRun> start_file_as(std::string run_id, const std::string& path,
                                               const RunOptions& options, const Lineage& lineage);

  // A run the app started, on the calling thread from start to end. Sub-agents and
  // cancellable runs are scheduled runs (start_file_as), so it has neither a parent nor a
  // cancel flag: only its deadline stops it early.
  RunResult run(std::string run_id, std::string_view source, std::string_view chunk_name,
                const std::string& script_directory, const RunOptions& options);

  // The directory require() looks in for a plan file's modules.
  static std::string plan_directory(const std::string& path);

  struct RunFrame;  // below, after Run
  // Sets `frame` up for the plan `source`: the run's budgets, tools, deadline, the host
  // its plan sees and the start of its trace. False when the run ended before its plan
  // could start; frame.result.error says why.
  bool open_run(RunFrame& frame, std::string run_id, const std::atomic<bool>* cancel,
                std::string_view source, std::string_view chunk_name,
                const std::string& script_directory, const Lineage& lineage);
  // Ends the run `frame` holds with the plan's `outcome` (none when open_run failed):
  // sub-agents ended, settlements durable, the cost read from the wallet, the trace
  // closed, health saved. Blocks on the disk: never call it on a loop thread.
  void close_run(RunFrame& frame, std::optional<lua::PlanOutcome> outcome);
  // Tells RuntimeOptions::on_run, if any, that a run started or finished.
  void report_run(const RunEvent& event) const;
  // close_run() in three parts, for runs that end together (ScheduledRuns closes them in
  // batches): begin_close() for each (sub-agents ended, the result set, the tabs
  // detached; false when there is nothing more to close), then end_close() for each (the
  // tabs durable, the cost read, the trace's end queued), then one flush_closed() (the
  // traces durable, health saved). The tabs of the batch are signed and committed
  // together, and one memory.db commit covers every trace.
  bool begin_close(RunFrame& frame, std::optional<lua::PlanOutcome> outcome);
  void end_close(RunFrame& frame);
  void flush_closed();

  // A run for the scheduler (scheduled_run.cpp): `handle` receives its result.
  std::shared_ptr<scheduler::Agent> make_scheduled_run(std::shared_ptr<BackgroundRun> handle,
                                                       std::string source, std::string chunk_name,
                                                       std::string script_directory,
                                                       const RunOptions& options,
                                                       const Lineage& lineage);
  class ScheduledRun;
  friend class ScheduledRun;

  // The run's record in memory.db: its script, arguments and the provider and default
  // model it ran with (what `perdiem replay` needs to run it again).
  void begin_trace(const std::string& run_id, std::string_view chunk_name, std::string_view source,
                   const RunOptions& options);

  // Queues the end of the run's trace; flush_closed() makes it durable.
  void end_trace(const RunResult& result);

  // Keeps the pending settlement; a long run drops the ones already committed, so it
  // holds at most a few hundred (a settlement commits with the next call's reserve).
  static void track_settlement(std::vector<std::shared_future<Result<wallet::Settlement>>>& pending,
                               std::shared_future<Result<wallet::Settlement>> settlement) {
    if (pending.size() >= 256) {
      auto committed = [](const std::shared_future<Result<wallet::Settlement>>& f) {
        return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready && f.get().ok();
      };
      pending.erase(std::remove_if(pending.begin(), pending.end(), committed), pending.end());
    }
    pending.push_back(std::move(settlement));
  }

  // Waits until the run's pipelined settlements are durable, so the cost the result
  // reports (and the receipts it names) are on disk when run() returns. A settlement that
  // failed to commit leaves its reservation open; the wallet charges its hold when next
  // opened, so nothing is lost, but the owner should know.
  void finish_settlements(
      std::vector<std::shared_future<Result<wallet::Settlement>>>& settlements) {
    if (settlements.empty()) return;
    Status synced = wallet_->ledger().sync();
    for (auto& pending : settlements) {
      const Result<wallet::Settlement>& settled = pending.get();
      if (settled.ok() || !options_.on_log) continue;
      options_.on_log(LogLevel::warn, "a settlement did not commit (" + settled.error().describe() +
                                          "); the wallet will charge its hold when next opened");
    }
    if (!synced.ok() && options_.on_log) {
      options_.on_log(LogLevel::warn, "the wallet could not sync: " + synced.error().describe());
    }
    settlements.clear();
  }

  struct SubAgent;  // runtime_spawn.cpp
  // One run's state, shared by the callbacks the plan reaches.
  struct Run {
    RunResult& result;
    wallet::Budgets budgets;
    // Settlements queued but perhaps not yet durable (MeterOptions::pipelined_settle).
    std::vector<std::shared_future<Result<wallet::Settlement>>>& settlements;
    std::int64_t steps = 0;
    std::uint64_t max_steps = 0;             // RunOptions::max_steps
    std::mutex mutex{};                      // guards the above and result's figures
    // This run's tools and grants, built by run_tools() on first use: most runs call no
    // tool, and building them was a good part of what starting a run cost.
    std::unique_ptr<sdk::RunTools> tools{};
    std::mutex tools_mutex{};  // guards `tools`
    const std::atomic<bool>* cancel = nullptr;
    // A scheduled run's handle, which passes its cancellation on to the sub-agents it
    // adopts; null for a run on the app's thread, which nothing cancels (run()).
    BackgroundRun* handle = nullptr;
    const RunOptions* options = nullptr;  // as the run was started
    int depth = 0;                        // agent.spawn levels above this run
    std::string parent_run_id{};          // the run that spawned this one; "" for none
    // Sub-agents by run id (runtime_spawn.cpp); guarded by `mutex`.
    std::map<std::string, std::shared_ptr<SubAgent>> children{};
    Nanos children_cost = 0;  // what finished sub-agents spent
    // When RunOptions::timeout runs out, on the steady clock; empty without one.
    std::optional<std::chrono::steady_clock::time_point> deadline{};
  };
  // One run, from its options to its result: what run() keeps on its stack, and a
  // scheduled run (scheduled_run.cpp) on the heap. `run` refers to `result` and
  // `settlements`, `host` to `run`.
  struct RunFrame {
    RunOptions options;
    RunResult result{};
    std::vector<std::shared_future<Result<wallet::Settlement>>> settlements{};
    std::optional<Run> run{};
    lua::PlanHost host{};
    lua::PlanLimits limits{};
    bool traced = false;  // begin_trace was called: close_run ends the trace
  };
  // agent.spawn: starts request.path as a sub-agent of `parent` with the parent's grants
  // and limits, its budget carved from what the parent has left; returns its run id.
  Result<std::string> spawn(Run& parent, const lua::SpawnRequest& request);
  // child:await(): waits for the sub-agent and gives the parent back what it did not
  // spend of its carved budget.
  Result<lua::SpawnResult> await_child(Run& parent, const std::string& run_id);
  // The same for a parent on the scheduler, without a thread waiting: `answer` runs on
  // `loop` once the sub-agent has finished (at once if it has). The parent's handle
  // adopted the sub-agent, so cancelling the parent reaches it meanwhile.
  void await_child_on(Run& parent, const std::string& run_id, http::EventLoop& loop,
                      std::function<void(Result<lua::SpawnResult>)> answer);
  // When a run ends: cancels the sub-agents it did not await and waits for them all.
  static void end_children(Run& run);
  // Whether end_children() would have sub-agents to stop and wait for.
  static bool has_unawaited_children(Run& run);

  metering::MeterOptions meter_options() const;
  // The run's tools, built on first use.
  Result<sdk::RunTools*> run_tools(Run& run);

  static wallet::Budgets budgets_for(const std::string& run_id, const RunOptions& options);

  lua::PlanHost host_for(Run& run);

  // One tool call from the plan (tool.call, tool.run): grant and schema checked, paid
  // like a model call when the tool has a price, traced as a step.
  Result<std::string> call_tool(const std::string& name, const std::string& arguments_json,
                                Run& run);
  // The calls of one model reply at once (at most kMaxConcurrentCalls), results in order.
  std::vector<Result<std::string>> call_tools(
      const std::vector<std::pair<std::string, std::string>>& calls, Run& run);

  // The model memory.* embeds with: named by the plan, else the runtime's default. Its
  // embedder goes through embed(), so every embedding is metered and traced.
  Result<memory::EmbeddingModel> embedding_model(const std::string& name, Run& run);

  // A paid provider with the runtime's own empty wallet: say how to get a real one
  // instead of reporting an empty balance.
  std::optional<Error> needs_a_wallet(const sdk::PoolMember& member) const;

  // The call that would pass RunOptions::max_steps fails instead, before anything is
  // reserved or sent.
  static std::optional<Error> step_limit_reached(const Run& run);

  Result<providers::EmbedResponse> embed(const providers::EmbedRequest& request, Run& run);

  Result<providers::EmbedResponse> metered_embed(const providers::EmbedRequest& request,
                                                 const metering::CallContext& context, Run& run);

  // Adds a finished call to the run's figures and keeps its pending settlement.
  // Thread-safe (model.chat_many finishes calls on several threads).
  static void record_call(Run& run, std::shared_future<Result<wallet::Settlement>> settlement,
                          const std::string& provider, const providers::Usage& usage) {
    std::lock_guard lock(run.mutex);
    if (settlement.valid()) track_settlement(run.settlements, std::move(settlement));
    count_call(run.result, provider, usage);
  }

  static void count_call(RunResult& result, const std::string& provider,
                         const providers::Usage& usage);

  // on_delta (model.stream; may be null) receives the answer's text as it arrives.
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request, Run& run,
                                       const lua::DeltaSink* on_delta = nullptr) {
    Result<std::int64_t> step = next_step(run);
    if (!step) return step.error();
    return chat_step(request, *step, run, on_delta);
  }

  // model.chat and model.stream on the event loop (runtime_async_chat.cpp): as chat(),
  // but each attempt is sent with Provider::start_chat and each backoff is a loop timer,
  // so no thread waits. `done` runs once, on the loop thread (maybe before this returns);
  // on_delta (may be empty) receives the text there as it arrives.
  void start_chat(const providers::ChatRequest& request, Run& run, http::EventLoop& loop,
                  lua::DeltaSink on_delta, providers::ChatDone done);
  class AsyncChat;

  // model.chat_many: steps numbered in request order, then every call at once (at most
  // kMaxConcurrentCalls in flight), each metered and traced like model.chat.
  std::vector<Result<providers::ChatResponse>> chat_many(
      const std::vector<providers::ChatRequest>& requests, Run& run);

  // The run's next step number, or the step limit's error. Thread-safe.
  Result<std::int64_t> next_step(Run& run) {
    std::lock_guard lock(run.mutex);
    if (auto limit = step_limit_reached(run)) return *limit;
    return ++run.steps;
  }

  // The step's text deltas go to on_step (as StepPhase::delta events) for a model.stream
  // call, or for every call with RuntimeOptions::stream_chat, then to on_delta.
  Result<providers::ChatResponse> chat_step(const providers::ChatRequest& request,
                                            std::int64_t step, Run& run,
                                            const lua::DeltaSink* on_delta = nullptr);

  Result<providers::ChatResponse> metered_chat(const providers::ChatRequest& routed,
                                               const metering::CallContext& context, Run& run,
                                               sdk::RouteTrace& route_trace,
                                               const lua::DeltaSink* on_delta = nullptr);

  // The call through the router: the candidates that may serve request.model ranked by
  // the call's route= preferences and the runtime's routing options, retries with
  // backoff, fallback, circuit breakers and health. Every attempt is metered with its
  // own idempotency key, so a failed attempt is released and only the answer is charged.
  // `route_trace` receives the decision and every attempt, for the step's trace.
  // on_delta (may be null) streams the answer; returning false stops the stream. The
  // adapter's findings (status, Retry-After, partial output) steer the retries: a call
  // that streamed part of its answer is never retried.
  // A backoff ends early, and no further attempt is sent, once `run` is cancelled or
  // past its deadline.
  Result<metering::MeteredResponse> routed_call(const providers::ChatRequest& request,
                                                const metering::CallContext& context,
                                                const Run& run, sdk::RouteTrace& route_trace,
                                                const lua::DeltaSink* on_delta = nullptr);
  // The ranked plan for `request` (what routed_call walks; wallet.quote prices its first).
  Result<router::Plan> plan_for(const providers::ChatRequest& request);

  // First, so they are destroyed last: runs use them until they are joined.
  std::unique_ptr<sdk::RuntimeMemory> memory_;
  std::unique_ptr<sdk::RuntimeTools> tools_;
  RuntimeOptions options_;
  std::string provider_name_;
  std::string reason_;
  std::string model_;
  sdk::ProviderPool pool_;
  std::unique_ptr<sdk::RuntimeWallet> wallet_;
  metering::Meter meter_;
  router::HealthBook health_;  // shared by every run of this runtime; thread-safe
  sdk::HealthStore health_store_;  // where health_ persists between runs
  std::vector<std::string> module_paths_;  // the plan library, when found
  // Last, so it is destroyed first: its runs are cancelled and waited for while
  // everything they use still exists.
  sdk::ScheduledRuns scheduled_;
};

}  // namespace perdiem::sdk
