// The globals a plan sees on top of the sandbox: model, log, print, json, agent.
// Internal to runtime/lua: run_plan (plan.cpp) is the only user.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>

#include "runtime/lua/json_bridge.hpp"
#include "runtime/lua/plan.hpp"

namespace perdiem::lua {

// What the bindings share with the driver loop in run_plan. Lives on run_plan's stack
// and must outlive the lua_State (finalizers run at lua_close can still call in).
struct PlanContext {
  PlanHost* host = nullptr;
  PlanLimits limits;
  lua_State* plan_thread = nullptr;  // the coroutine running the plan's main chunk
  bool finished = false;             // once set, model.chat refuses: the run is over
  // model.chat on the plan thread parks its request here and yields; the driver asks
  // the host and parks the answer for model.chat's continuation.
  std::optional<providers::ChatRequest> pending;
  std::optional<Result<providers::ChatResponse>> answer;
};

// Sets the globals model, log, print, json and agent. May raise (memory): call from
// protected code.
void install_plan_globals(lua_State* L, PlanContext& context, const std::vector<std::string>& args);

// Pushes the `model` table. May raise.
void push_model_module(lua_State* L, PlanContext& context);

// Reads model.chat's argument table (stack index 1) into a request. Raises on a
// malformed table. Shared by wallet.quote, which prices the same table.
providers::ChatRequest read_chat_request(lua_State* L, std::size_t max_bytes);

// Pushes a nano-USD amount as a number of USD (for display; exact amounts are *_nanos).
void push_usd(lua_State* L, std::int64_t nanos);

// Pushes the `wallet` table. May raise.
void push_wallet_module(lua_State* L, PlanContext& context);

// host.chat(request), with a missing callback or a C++ exception turned into an Error.
Result<providers::ChatResponse> ask_host(PlanHost& host, const providers::ChatRequest& request);

}  // namespace perdiem::lua
