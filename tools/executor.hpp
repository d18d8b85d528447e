// Runs the tool calls a model (or a plan) asks for: finds the tool, checks the grant,
// parses and validates the arguments, calls the handler, and turns every failure into a
// tool error the model can read and correct. Several calls run at once, in call order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"
#include "tools/schema.hpp"
#include "tools/tool.hpp"

namespace perdiem::tools {

// The outcome of one tool call, as the model will see it.
struct ToolOutcome {
  std::string call_id;  // the ToolCall::id it answers
  std::string name;     // the tool's registered name ("" when the model named no tool)
  std::string content;  // the result text, or "error: ..." when is_error
  bool is_error = false;
  std::optional<Error> error{};  // set when is_error: kind, message, source
  bool executed = false;         // the handler ran (a paid call is then settled)
};

// The "tool" message that answers a call, for the next model request.
providers::Message to_message(const ToolOutcome& outcome);

// Hooks around each call whose tool was found, granted and whose arguments are valid.
// The runtime uses them to reserve a paid tool's price (before) and settle or release it
// (after), and to record the call. Both may be called from several threads at once.
struct ToolCallHooks {
  // An error refuses the call (say, insufficient credits); the model sees the message.
  std::function<Status(const Tool&, const ToolContext&)> before_call;
  // Called exactly once for every call before_call accepted, after the handler returned
  // (outcome.executed is then true) or threw.
  std::function<void(const Tool&, const ToolContext&, const ToolOutcome&)> after_call;
};

struct ExecutorLimits {
  std::size_t max_parallel_calls = 4;        // calls from one reply running at once
  std::size_t max_argument_bytes = 1 << 20;  // arguments text larger than this: refused
  std::size_t max_result_bytes = 64 * 1024;  // longer results are cut, with a note
  SchemaLimits schema{};                     // also bounds the arguments' nesting
};

// Thread-safety: call() and call_all() may run from several threads at once. The
// registry must outlive the executor; grants and hooks are copied.
class ToolExecutor {
 public:
  ToolExecutor(const ToolRegistry& registry, ToolGrants grants, ExecutorLimits limits = {},
               ToolCallHooks hooks = {});

  // A plan calling a tool directly: the same checks, but errors come back as values
  // instead of model-facing text. `name` may be the registered or the wire name.
  Result<nlohmann::json> invoke(std::string_view name, const nlohmann::json& args,
                                const ToolContext& context) const;

  // One model tool call; never fails: failures are outcomes with is_error set.
  // context.call_id is replaced by call.id.
  ToolOutcome call(const providers::ToolCall& call, const ToolContext& context) const;

  // Every call of one model reply, up to max_parallel_calls at once; outcomes in the
  // order of `calls`.
  std::vector<ToolOutcome> call_all(const std::vector<providers::ToolCall>& calls,
                                    const ToolContext& context) const;

  const ExecutorLimits& limits() const { return limits_; }

 private:
  // Finds the tool and checks the grant.
  Result<std::shared_ptr<const Tool>> resolve(std::string_view name) const;
  // Validates, runs the hooks and the handler; `executed` reports whether it ran.
  Result<nlohmann::json> run(const Tool& tool, const nlohmann::json& args,
                             const ToolContext& context, bool* executed) const;

  const ToolRegistry& registry_;
  ToolGrants grants_;
  ExecutorLimits limits_;
  ToolCallHooks hooks_;
};

// The result as text: a JSON string as is, anything else as compact JSON (invalid UTF-8
// replaced), cut at `max_bytes` on a character boundary with a note saying how much was
// dropped.
std::string result_text(const nlohmann::json& result, std::size_t max_bytes);

}  // namespace perdiem::tools
