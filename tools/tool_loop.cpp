#include "tools/tool_loop.hpp"

namespace perdiem::tools {

Result<ToolLoopResult> run_tool_loop(std::vector<providers::Message> messages,
                                     const ModelCall& model, const ToolExecutor& executor,
                                     const ToolContext& context, ToolLoopLimits limits) {
  ToolLoopResult loop;
  loop.messages = std::move(messages);
  for (;;) {
    Result<providers::ChatResponse> reply = model(loop.messages);
    if (!reply.ok()) return reply.error();
    loop.response = std::move(reply).value();
    if (loop.response.tool_calls.empty()) {
      loop.stop = ToolLoopStop::answered;
      return loop;
    }
    if (loop.rounds >= limits.max_rounds) {
      loop.stop = ToolLoopStop::round_limit;
      return loop;
    }
    providers::Message assistant;
    assistant.role = "assistant";
    assistant.content = loop.response.content;
    assistant.tool_calls = loop.response.tool_calls;
    loop.messages.push_back(std::move(assistant));

    std::vector<ToolOutcome> outcomes = executor.call_all(loop.response.tool_calls, context);
    for (ToolOutcome& outcome : outcomes) {
      loop.messages.push_back(to_message(outcome));
      loop.outcomes.push_back(std::move(outcome));
    }
    ++loop.rounds;
  }
}

}  // namespace perdiem::tools
