// The model-driven tool loop: ask the model, run the tools it calls, feed the results
// back, repeat until it answers without tools or the round limit is reached.
//
// Pure C++: the model is a callback, so the runtime can route the call (and pay for it)
// however it likes, and tests can script the model.
#pragma once

#include <functional>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"
#include "tools/executor.hpp"

namespace perdiem::tools {

// Sends the whole conversation so far to the model and returns its reply. An error
// stops the loop and is returned as is.
using ModelCall =
    std::function<Result<providers::ChatResponse>(const std::vector<providers::Message>&)>;

struct ToolLoopLimits {
  // Rounds of tool calls executed; the model is asked at most max_rounds + 1 times.
  int max_rounds = 8;
};

enum class ToolLoopStop {
  answered,     // the model replied without calling a tool
  round_limit,  // it still called tools after max_rounds rounds; they were not run
};

struct ToolLoopResult {
  ToolLoopStop stop = ToolLoopStop::answered;
  // The model's last reply. On round_limit it still holds the unanswered tool_calls.
  providers::ChatResponse response;
  // The conversation: the input messages, then for each round the assistant message
  // with its tool_calls and one "tool" message per call, in call order. The final reply
  // is not appended (it is `response`), so a caller can continue the conversation.
  std::vector<providers::Message> messages;
  int rounds = 0;                     // rounds of tool calls executed
  std::vector<ToolOutcome> outcomes;  // every call run, across rounds, in order
};

// Runs the loop. Tool failures never stop it (the model sees them and may correct the
// call); only a model error does. Thread-safety: as safe as `model` and `executor`.
Result<ToolLoopResult> run_tool_loop(std::vector<providers::Message> messages,
                                     const ModelCall& model, const ToolExecutor& executor,
                                     const ToolContext& context, ToolLoopLimits limits = {});

}  // namespace perdiem::tools
