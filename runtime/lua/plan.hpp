// Runs one Lua plan to completion in its own sandboxed state.
//
// The plan runs as a coroutine; model.chat yields to the host, which answers through
// PlanHost::chat. (Today the host answers synchronously; the scheduler issue turns the
// yield into a real suspension on an event loop without changing the plan's view.)
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/perdiem.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::lua {

struct PlanHost {
  // Answers one model.chat. request.model is "" when the plan named none: the host
  // fills in its default. Errors reach the plan as catchable error tables.
  std::function<Result<providers::ChatResponse>(const providers::ChatRequest&)> chat;
  // Receives log(...), log.info/warn/error. May be empty.
  std::function<void(LogLevel, std::string_view)> log;
};

struct PlanLimits {
  std::size_t memory_limit_bytes = 64u << 20;
};

struct PlanOutcome {
  std::optional<Error> error;  // kind script, sandbox, limit, or the error a call raised
  std::string text;            // a string result as is; anything else as JSON
  std::string json;            // the result as JSON; "null" when the plan returned nothing
};

PlanOutcome run_plan(std::string_view source, std::string_view chunk_name,
                     const std::vector<std::string>& args, const PlanLimits& limits,
                     PlanHost& host);

}  // namespace perdiem::lua
