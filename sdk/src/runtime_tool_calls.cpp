// RuntimeImpl's tool calls: grants and schemas checked, priced tools paid through the
// wallet, every call traced as a step.
#include "sdk/src/runtime_impl.hpp"

#include <algorithm>

#include "sdk/src/step_report.hpp"
#include "tools/schema.hpp"

namespace perdiem::sdk {

Result<sdk::RunTools*> RuntimeImpl::run_tools(Run& run) {
  std::lock_guard<std::mutex> guard(run.tools_mutex);
  if (!run.tools) {
    Result<std::unique_ptr<sdk::RunTools>> built = tools_->for_run(*run.options, memory_->store());
    if (!built) return built.error();
    run.tools = std::move(*built);
  }
  return run.tools.get();
}

Result<std::string> RuntimeImpl::call_tool(const std::string& name,
                                           const std::string& arguments_json, Run& run) {
  nlohmann::json arguments = nlohmann::json::parse(arguments_json, nullptr, false);
  if (arguments.is_discarded()) {
    return make_error(ErrorKind::tool, "the arguments are not valid JSON", name);
  }
  Result<sdk::RunTools*> run_tools = this->run_tools(run);
  if (!run_tools) return run_tools.error();
  Result<std::shared_ptr<const tools::Tool>> tool = (*run_tools)->find(name);
  if (!tool) return tool.error();
  // An invalid call is refused before anything is reserved: it costs nothing.
  if (Status valid = tools::validate_against_schema((*tool)->parameters, arguments); !valid.ok()) {
    return make_error(ErrorKind::tool, valid.error().message, (*tool)->name);
  }
  Result<std::int64_t> step = next_step(run);
  if (!step) return step.error();
  sdk::StepReport report(options_.on_step, &memory_->store(), run.result.run_id, *step,
                         (*tool)->name, arguments);
  std::optional<wallet::Reservation> hold;
  if ((*tool)->price_nanos) {
    wallet::ReserveRequest request;
    request.idempotency_key = run.result.run_id + ":" + std::to_string(*step) + ":1";
    request.provider = "tools";
    request.worst_case = *(*tool)->price_nanos;
    request.budgets = run.budgets;
    Result<wallet::Reservation> reserved = wallet_->ledger().reserve(request);
    if (!reserved) {
      report.finished(Result<std::string>(reserved.error()), 0, {});
      return reserved.error();
    }
    hold = *reserved;
  }
  tools::ToolContext context;
  context.run_id = run.result.run_id;
  context.cancelled = run.cancel;
  Result<nlohmann::json> result = (*run_tools)->invoke((*tool)->name, arguments, context);
  Result<std::string> text = result ? Result<std::string>(sdk::tool_result_text(*result))
                                    : Result<std::string>(result.error());
  std::int64_t cost = 0;
  std::string receipt;
  if (hold) {
    if (!result) {
      (void)wallet_->ledger().release(hold->id);  // a failed tool call costs nothing
    } else {
      wallet::CallRecord record;
      record.model = (*tool)->name;
      record.step = *step;
      record.prices.per_request = *(*tool)->price_nanos;
      auto settled = wallet_->ledger().settle(*hold, *(*tool)->price_nanos, record);
      if (!settled) {
        report.finished(Result<std::string>(settled.error()), 0, {});
        return settled.error();
      }
      cost = settled->cost;
      if (settled->receipt) receipt = settled->receipt->id;
    }
  }
  report.finished(text, cost, receipt);
  return text;
}

std::vector<Result<std::string>> RuntimeImpl::call_tools(
    const std::vector<std::pair<std::string, std::string>>& calls, Run& run) {
  return run_at_once(calls.size(), [this, &calls, &run](std::size_t i) {
    return call_tool(calls[i].first, calls[i].second, run);
  });
}

}  // namespace perdiem::sdk
