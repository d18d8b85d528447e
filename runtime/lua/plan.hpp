// Runs one Lua plan to completion in its own sandboxed state.
//
// The plan runs as a coroutine; model.chat yields to the host, which answers through
// PlanHost::chat. model.stream yields the same way and the host answers through
// PlanHost::chat_stream; while it does, the plan's on_delta runs for each piece of text,
// on this thread, under the plan's limits (see stream_binding.cpp). run_plan answers
// every yield synchronously on the calling thread; PlanTask (plan_task.hpp) lets a
// scheduler answer them later instead, from an event loop, without changing the plan's
// view.
//
// What a plan sees: the sandbox's libraries (sandbox.hpp), model.chat, wallet.*, log
// (callable; log.info/warn/error), print (= log.info: a plan never writes to the host's
// stdout), json (json_bridge.hpp), agent.args, time.now, sleep and require. The
// reference for script authors is docs/lua-api.md.
//
// Limits: a plan that exhausts its heap, its instructions or its time, or is cancelled,
// ends with that limit's error (kind limit or cancelled, naming the limit and its value)
// however it tries to catch it; the host and other plans carry on.
//
// Thread-safety: run_plan may run on several threads at once, each with its own host;
// the host's callbacks are called on the thread that called run_plan.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/routing.hpp"
#include "perdiem/perdiem.hpp"
#include "runtime/memory/records.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::memory {
class MemoryStore;
}

namespace perdiem::lua {

// The wallet as a plan sees it, in nano-USD.
struct WalletSnapshot {
  std::int64_t allowance = 0;  // today's allowance left
  std::int64_t usd = 0;        // the USD balance
  std::int64_t reserved = 0;   // held by calls in flight
};

// agent.spawn's request: a plan file to run as a sub-agent, in its own sandbox and run.
struct SpawnRequest {
  std::string path;  // resolved by the binding: under the plan's directory or library
  std::vector<std::string> args;
  std::optional<std::int64_t> budget_nanos;  // carved from the parent's; empty: no cap
  std::chrono::milliseconds timeout{0};      // 0: the parent's timeout
  std::uint64_t max_steps = 0;               // 0: the parent's limit
};

struct SpawnResult {
  std::string run_id;
  std::string json;  // the sub-agent's return value as JSON
  std::int64_t cost_nanos = 0;
};

// Receives a streamed answer's text, piece by piece and in order, on the thread that
// asked for it. Returns false to stop the stream (model.stream's on_delta raised): the
// host then ends the call as soon as it can and sends no more pieces.
using DeltaSink = std::function<bool(std::string_view text)>;

struct PlanHost {
  // Answers one model.chat. request.model is "" when the plan named none: the host
  // fills in its default. Errors reach the plan as catchable error tables.
  std::function<Result<providers::ChatResponse>(const providers::ChatRequest&)> chat;
  // Answers one model.stream: as `chat`, handing the answer's text to `on_delta` while
  // the call runs. Empty: `chat` answers and on_delta receives its whole text at once.
  std::function<Result<providers::ChatResponse>(const providers::ChatRequest&,
                                                const DeltaSink& on_delta)>
      chat_stream;
  // Answers model.chat_many: every request, concurrently, results in request order.
  // Empty: the requests go to `chat` one after another.
  std::function<std::vector<Result<providers::ChatResponse>>(
      const std::vector<providers::ChatRequest>&)>
      chat_many;
  // Tools (tool.*, model.chat's tools=), besides those the plan defines itself:
  // the definitions of the named tools (a tool error naming an unknown or refused one),
  // one call with JSON arguments (the result as text for the model: a string as is,
  // anything else as JSON), and the tools this run may call. Empty: no host tools.
  std::function<Result<std::vector<providers::ToolDefinition>>(const std::vector<std::string>&)>
      tool_definitions;
  std::function<Result<std::string>(const std::string& name, const std::string& arguments)>
      call_tool;
  std::function<std::vector<providers::ToolDefinition>()> list_tools;
  // providers.list(): every provider calls can go to, with its routes and health.
  std::function<std::vector<ProviderStatus>()> list_providers;
  // Several calls (name, JSON arguments) at once, as a model reply asks for them; results
  // in call order. Empty: tool.run calls them one by one through call_tool.
  std::function<std::vector<Result<std::string>>(
      const std::vector<std::pair<std::string, std::string>>& calls)>
      call_tools;
  // Answers one model.embed; request.model is "" when the plan named none. Empty: the
  // plan gets a config error.
  std::function<Result<providers::EmbedResponse>(const providers::EmbedRequest&)> embed;
  // Receives log(...), log.info/warn/error. May be empty.
  std::function<void(LogLevel, std::string_view)> log;

  // The wallet that pays for this run (wallet.*). Empty callbacks make the wallet
  // functions raise a config error.
  std::string wallet_address;
  std::function<Result<WalletSnapshot>()> wallet_balance;
  // The worst-case cost of a call in nano-USD (what would be reserved).
  std::function<Result<std::int64_t>(const providers::ChatRequest&)> wallet_quote;
  // What this run has committed so far in nano-USD: settled costs plus open holds.
  std::function<Result<std::int64_t>()> wallet_spent;

  // memory.*: the run's memory store (null: memory.* raises a config error), and the
  // embedding model remember{embed=true} and vector/hybrid recall use, by name ("" = the
  // host's default); its embedder is metered like model.embed.
  memory::MemoryStore* memory = nullptr;
  std::function<Result<memory::EmbeddingModel>(const std::string& model)> embedding_model;

  // agent.id and agent.run_id: the agent's name ("" when unnamed) and this run's id.
  std::string agent_id;
  std::string run_id;
  // agent.spawn starts a sub-agent in the background and returns its handle (its run
  // id); await_spawn waits for it and returns its result, or its failure as an Error the
  // plan can catch (the same answer each time it is asked). Empty: agent.spawn raises a
  // config error.
  std::function<Result<std::string>(const SpawnRequest&)> spawn;
  std::function<Result<SpawnResult>(const std::string& run_id)> await_spawn;

  // Where require(name) looks for "a/b.lua" given the name "a.b": first the directory of
  // the plan's own file (empty for a plan given as text), then each of module_paths in
  // order (the plan library: the runtime's scripts/ directory, so require "perdiem.react"
  // reads scripts/perdiem/react.lua). Both empty: require raises a not_found error.
  std::string script_directory;
  std::vector<std::string> module_paths;

  // time.now(): Unix time in seconds. Empty: the system clock.
  std::function<double()> unix_time;
  // The clock PlanLimits::deadline is measured on. Empty: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> monotonic_time;
  // Waits for sleep(seconds), called from run_plan's loop while the plan is suspended,
  // with the duration already cut to the deadline. An error reaches the plan as an error
  // table. Empty: this thread sleeps, waking early when `cancel` is set.
  std::function<Status(std::chrono::nanoseconds)> sleep;
  // Set to true from any thread to stop the plan with kind `cancelled` at its next
  // instruction, model call or sleep. Null: the run cannot be cancelled. Must outlive
  // run_plan.
  const std::atomic<bool>* cancel = nullptr;
};

struct PlanLimits {
  std::size_t memory_limit_bytes = 64u << 20;  // the Lua heap; also caps json.encode's
                                               // output and one model.chat's messages
  std::size_t json_max_depth = 200;            // nesting json.encode/decode accept
  std::size_t log_line_max_bytes = 64u << 10;  // longer log lines are cut
  // VM instructions the plan may run; pattern-matching steps and table.insert/remove/
  // move element moves count too. 0: no limit.
  std::uint64_t instruction_limit = 100'000'000;
  // Wall-clock time for the whole run, from run_plan's start, model calls and sleeps
  // included. 0: no deadline.
  std::chrono::nanoseconds deadline{0};
  // How long the plan runs before it is preempted so others sharing its thread get a
  // turn (PlanWait::preempted; SandboxLimits::time_slice); 0: never. The scheduler's.
  std::chrono::nanoseconds time_slice{0};
};

// On error, text and json are empty.
struct PlanOutcome {
  std::optional<Error> error;  // kind script, sandbox, limit, cancelled, not_found, or the
                               // error a call raised
  std::string text;            // a string result as is; anything else as JSON
  std::string json;            // the result as JSON; "null" when the plan returned nothing
};

// Never throws for anything the plan does; `chunk_name` is how tracebacks and error
// sources name the plan ("plan.lua:3").
PlanOutcome run_plan(std::string_view source, std::string_view chunk_name,
                     const std::vector<std::string>& args, const PlanLimits& limits,
                     PlanHost& host);

}  // namespace perdiem::lua
