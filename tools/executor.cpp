#include "tools/executor.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>

#include "base/json_depth.hpp"
#include "tools/text.hpp"

namespace perdiem::tools {
namespace {

ToolOutcome error_outcome(const providers::ToolCall& call, std::string name, Error error) {
  ToolOutcome outcome;
  outcome.call_id = call.id;
  outcome.name = std::move(name);
  outcome.is_error = true;
  outcome.content = "error: " + error.message;
  outcome.error = std::move(error);
  return outcome;
}

Result<nlohmann::json> parse_arguments(const std::string& text, const Tool& tool,
                                       const ExecutorLimits& limits) {
  if (text.size() > limits.max_argument_bytes) {
    return make_error(ErrorKind::invalid_argument,
                      "the arguments are " + std::to_string(text.size()) + " bytes; at most " +
                          std::to_string(limits.max_argument_bytes) + " are accepted",
                      tool.name);
  }
  // Models often send "" for a tool without parameters.
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) return nlohmann::json::object();
  if (base::json_nests_deeper_than(text, limits.schema.max_depth)) {
    return make_error(
        ErrorKind::invalid_argument,
        "the arguments nest deeper than " + std::to_string(limits.schema.max_depth) + " levels",
        tool.name);
  }
  nlohmann::json args = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (args.is_discarded()) {
    return make_error(ErrorKind::invalid_argument,
                      "the arguments are not valid JSON; send one JSON object", tool.name);
  }
  return args;
}

}  // namespace

providers::Message to_message(const ToolOutcome& outcome) {
  providers::Message message;
  message.role = "tool";
  message.content = outcome.content;
  message.tool_call_id = outcome.call_id;
  return message;
}

std::string result_text(const nlohmann::json& result, std::size_t max_bytes) {
  std::string text = result.is_string()
                         ? sanitize_utf8(result.get_ref<const std::string&>())
                         : result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() <= max_bytes) return text;
  std::size_t cut = utf8_prefix_length(text, max_bytes);
  std::size_t dropped = text.size() - cut;
  text.resize(cut);
  text += "\n[result cut: " + std::to_string(dropped) + " more bytes not shown]";
  return text;
}

ToolExecutor::ToolExecutor(const ToolRegistry& registry, ToolGrants grants, ExecutorLimits limits,
                           ToolCallHooks hooks)
    : registry_(registry), grants_(std::move(grants)), limits_(limits), hooks_(std::move(hooks)) {
  if (limits_.max_parallel_calls == 0) limits_.max_parallel_calls = 1;
}

Result<std::shared_ptr<const Tool>> ToolExecutor::resolve(std::string_view name) const {
  std::shared_ptr<const Tool> tool = registry_.find(name);
  if (!tool) {
    return make_error(
        ErrorKind::not_found,
        "there is no tool named '" + std::string(name) + "'; call only the tools you were given",
        std::string(name));
  }
  if (Status granted = grants_.check(*tool); !granted.ok()) return granted.error();
  return tool;
}

Result<nlohmann::json> ToolExecutor::run(const Tool& tool, const nlohmann::json& args,
                                         const ToolContext& context, bool* executed) const {
  *executed = false;
  // Every provider sends arguments as an object; a schema need not say so to require it.
  if (!args.is_object()) {
    return make_error(ErrorKind::invalid_argument,
                      "the arguments must be a JSON object, not " + std::string(args.type_name()),
                      tool.name);
  }
  if (Status valid = validate_against_schema(tool.parameters, args, limits_.schema); !valid.ok()) {
    Error error = valid.error();
    error.source = tool.name;
    return error;
  }
  if (hooks_.before_call) {
    if (Status accepted = hooks_.before_call(tool, context); !accepted.ok()) {
      return accepted.error();
    }
  }
  Result<nlohmann::json> result = make_error(ErrorKind::internal, "not run", tool.name);
  try {
    result = tool.handler(args, context);
    *executed = true;
  } catch (const std::exception& e) {
    // A handler should return errors, but one from a host app may throw: never let that
    // cross into the runtime's threads.
    result = make_error(ErrorKind::tool, std::string("the tool failed: ") + e.what(), tool.name);
  } catch (...) {
    result = make_error(ErrorKind::tool, "the tool failed with an unknown exception", tool.name);
  }
  if (!result.ok() && result.error().source.empty()) {
    Error error = result.error();
    error.source = tool.name;
    result = std::move(error);
  }
  if (hooks_.after_call) {
    ToolOutcome outcome;
    outcome.call_id = context.call_id;
    outcome.name = tool.name;
    outcome.executed = *executed;
    outcome.is_error = !result.ok();
    if (result.ok()) {
      outcome.content = result_text(result.value(), limits_.max_result_bytes);
    } else {
      outcome.error = result.error();
      outcome.content = "error: " + result.error().message;
    }
    hooks_.after_call(tool, context, outcome);
  }
  return result;
}

Result<nlohmann::json> ToolExecutor::invoke(std::string_view name, const nlohmann::json& args,
                                            const ToolContext& context) const {
  Result<std::shared_ptr<const Tool>> tool = resolve(name);
  if (!tool.ok()) return tool.error();
  bool executed = false;
  // A plan calling a tool without arguments passes nil.
  static const nlohmann::json kNoArguments = nlohmann::json::object();
  return run(**tool, args.is_null() ? kNoArguments : args, context, &executed);
}

ToolOutcome ToolExecutor::call(const providers::ToolCall& call, const ToolContext& context) const {
  Result<std::shared_ptr<const Tool>> tool = resolve(call.name);
  if (!tool.ok()) return error_outcome(call, "", tool.error());
  const Tool& found = **tool;
  Result<nlohmann::json> args = parse_arguments(call.arguments, found, limits_);
  if (!args.ok()) return error_outcome(call, found.name, args.error());

  ToolContext call_context = context;
  call_context.call_id = call.id;
  bool executed = false;
  Result<nlohmann::json> result = run(found, *args, call_context, &executed);
  if (!result.ok()) {
    ToolOutcome outcome = error_outcome(call, found.name, result.error());
    outcome.executed = executed;
    return outcome;
  }
  ToolOutcome outcome;
  outcome.call_id = call.id;
  outcome.name = found.name;
  outcome.executed = true;
  outcome.content = result_text(result.value(), limits_.max_result_bytes);
  return outcome;
}

std::vector<ToolOutcome> ToolExecutor::call_all(const std::vector<providers::ToolCall>& calls,
                                                const ToolContext& context) const {
  std::vector<ToolOutcome> outcomes(calls.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < calls.size(); i = next++) {
      outcomes[i] = call(calls[i], context);
    }
  };
  std::size_t extra_threads = std::min(calls.size(), limits_.max_parallel_calls);
  extra_threads = extra_threads > 0 ? extra_threads - 1 : 0;  // this thread works too
  std::vector<std::thread> threads;
  threads.reserve(extra_threads);
  for (std::size_t i = 0; i < extra_threads; ++i) {
    try {
      threads.emplace_back(worker);
    } catch (const std::system_error&) {
      break;  // no more threads available: the ones running (and this one) finish the work
    }
  }
  worker();
  for (std::thread& thread : threads) thread.join();
  return outcomes;
}

}  // namespace perdiem::tools
