// The globals a plan sees on top of the sandbox: model, log, print, json, agent.
// Internal to runtime/lua: run_plan (plan.cpp) is the only user.
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>

#include "runtime/lua/host_calls.hpp"
#include "runtime/lua/json_bridge.hpp"
#include "runtime/lua/plan.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {

// How a sleep went: the host's status, and whether it was cut short at the deadline.
struct SleepResult {
  Status status;
  bool deadline_reached = false;
};

// model.stream's on_delta for one call: registry references to the function and to the
// slot that keeps the first error it raised (made before the call, so that keeping the
// error never allocates). failed: on_delta raised; the stream was told to stop.
struct StreamTarget {
  int function_ref = LUA_NOREF;
  int error_ref = LUA_NOREF;
  bool failed = false;
};

// What the bindings share with the driver loop in run_plan. Lives on run_plan's stack
// and must outlive the lua_State.
struct PlanContext {
  PlanHost* host = nullptr;
  PlanLimits limits;
  Sandbox* sandbox = nullptr;
  // The coroutine whose model calls park here and yield to a driver: the plan's main
  // chunk under run_plan's loop, or a parallel branch while parallel resumes it.
  lua_State* plan_thread = nullptr;
  int parallel_branches = 0;  // > 0 while parallel() runs a branch (nested ones count)
  bool finished = false;  // once set, model.chat refuses: the run is over
  // Set for a driver that answers every wait at once on this thread (run_plan): model.chat
  // then asks the host inline rather than yielding to it, saving the yield (a C++ throw
  // in this Lua build) and the resume around every call. Not in a parallel branch, whose
  // calls parallel() gathers into one batch.
  bool answer_inline = false;
  // model.chat on the plan thread parks its request here and yields; the driver asks
  // the host and parks the answer for model.chat's continuation.
  std::optional<providers::ChatRequest> pending;
  std::optional<Result<providers::ChatResponse>> answer;
  // Set with `pending` by model.stream: the driver streams the answer to on_delta.
  std::optional<StreamTarget> stream;
  int in_on_delta = 0;  // on_delta is running (model calls refuse)
  // model.chat_many parks its requests the same way.
  std::optional<std::vector<providers::ChatRequest>> pending_many;
  std::optional<std::vector<Result<providers::ChatResponse>>> many_answers;
  // model.embed parks its request the same way.
  std::optional<providers::EmbedRequest> pending_embed;
  std::optional<Result<providers::EmbedResponse>> embed_answer;
  // sleep parks its duration the same way; the driver sleeps and parks how it went.
  std::optional<std::chrono::nanoseconds> pending_sleep;
  std::optional<SleepResult> slept;
  // tool.call and tool.run park their host, built-in and MCP tool calls (name, JSON
  // arguments) the same way: a tool may take seconds (http.fetch, an MCP server), and a
  // scheduler runs it off the loop thread meanwhile. Results in call order.
  std::optional<std::vector<std::pair<std::string, std::string>>> pending_tools;
  std::optional<std::vector<Result<std::string>>> tool_answers;
  // child:await() parks the sub-agent's run id the same way.
  std::optional<std::string> pending_child;
  std::optional<Result<SpawnResult>> child_answer;
};

// Sets the globals model, wallet, log, print, json, agent, time, sleep and require. May
// raise (memory): call from protected code.
void install_plan_globals(lua_State* L, PlanContext& context, const std::vector<std::string>& args);

// Pushes the `model` table. May raise.
void push_model_module(lua_State* L, PlanContext& context);

// Pushes model.chat's reply table for `answer`, or its error table (with provider=).
void push_chat_reply(lua_State* L, const Result<providers::ChatResponse>& answer);

// Adds model.stream to the `model` table on top of the stack (stream_binding.cpp).
void add_model_stream(lua_State* L, PlanContext& context);

// Asks the host for a model.stream answer, running on_delta (target) for each piece of
// text on `runner`: the state's main thread from the driver, the calling thread inline.
// `runner` must have 3 free stack slots. Never raises.
Result<providers::ChatResponse> ask_host_stream(lua_State* runner, PlanContext& context,
                                                const providers::ChatRequest& request,
                                                StreamTarget& target);

// Runs model.stream's on_delta (target) with `text` on `runner`; false once the stream
// should stop (on_delta raised, or the run was cancelled, timed out or hit a limit).
bool run_on_delta(lua_State* runner, PlanContext& context, StreamTarget& target,
                  std::string_view text);

// Raises "<what> cannot be called inside model.stream's on_delta" while on_delta runs.
void refuse_inside_on_delta(lua_State* L, const PlanContext& context, const char* what);

// Adds model.chat_many to the `model` table on top of the stack. May raise.
void add_model_chat_many(lua_State* L, PlanContext& context);


// Pushes the `tool` table (tool_binding.cpp). May raise.
void push_tool_module(lua_State* L, PlanContext& context);
// Replaces the tool names model.chat's tools= gave with their definitions: the plan's
// own tools from tool.define, the rest from the host. Raises a `tool` error for an
// unknown or refused tool.
void fill_tool_definitions(lua_State* L, PlanContext& context, providers::ChatRequest& request);

// Adds model.embed to the `model` table on top of the stack. May raise.
void add_model_embed(lua_State* L, PlanContext& context);


// Reads model.chat's argument table (stack index 1) into a request. Raises on a
// malformed table. Shared by wallet.quote, which prices the same table.
providers::ChatRequest read_chat_request(lua_State* L, std::size_t max_bytes);

// Pushes a nano-USD amount as a number of USD (for display; exact amounts are *_nanos).
void push_usd(lua_State* L, std::int64_t nanos);

// Reads model.chat's route= field of the table at `table` into request.route. Raises on
// a malformed route table (route_binding.cpp).
void read_route_preferences(lua_State* L, int table, providers::ChatRequest& request);

// Pushes the `providers` table (providers.list). May raise.
void push_providers_module(lua_State* L, PlanContext& context);

// Pushes the `wallet` table. May raise.
void push_wallet_module(lua_State* L, PlanContext& context);

// Pushes the `memory` table (memory_binding.cpp). May raise.
void push_memory_module(lua_State* L, PlanContext& context);

// Pushes the `time` table and the `sleep` function. May raise.
void push_time_module(lua_State* L, PlanContext& context);
void push_sleep(lua_State* L, PlanContext& context);

// A sleep of `duration` cut at the plan's deadline, and whether it was cut.
struct SleepCut {
  std::chrono::nanoseconds duration{0};
  bool deadline_reached = false;
};
SleepCut cut_at_deadline(const PlanContext& context, std::chrono::nanoseconds duration);
// Waits `duration` (already cut) through host.sleep, or on this thread, waking early
// when the run is cancelled. Never throws.
Status wait_for_plan(const PlanContext& context, std::chrono::nanoseconds duration);
// Sleeps for the plan: cut_at_deadline, then wait_for_plan.
SleepResult sleep_for_plan(PlanContext& context, std::chrono::nanoseconds duration);

// A module name: words of letters, digits and '_' separated by single dots.
bool valid_module_name(std::string_view name);
// The file `relative` ("perdiem/react.lua") under the plan's directory or one of the
// module paths, resolved and still inside it (links leading out are ignored), or "".
std::filesystem::path find_module(const PlanHost& host, const std::string& relative);


// Adds agent.spawn to the `agent` table on top of the stack (agent_binding.cpp).
void add_agent_spawn(lua_State* L, PlanContext& context);

// parallel(f1, f2, ...) takes at most this many functions.
constexpr int kMaxParallelBranches = 1000;

// Pushes the `parallel` function (parallel_binding.cpp). May raise.
void push_parallel(lua_State* L, PlanContext& context);
// Makes coroutine.resume and coroutine.wrap pass the plan's waits up to its driver
// (coroutine_binding.cpp), when the coroutine library is built on first use.
// context.sandbox must be set. Call before the plan runs.
void install_plan_coroutine(lua_State* L, PlanContext& context);

// Pushes the `require` function. May raise.
void push_require(lua_State* L, PlanContext& context);

}  // namespace perdiem::lua
