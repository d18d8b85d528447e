// run_plan: one plan driven to completion on the calling thread, every wait answered by
// the host as it comes (PlanTask::answer_from_host).
#include "runtime/lua/plan.hpp"

#include "runtime/lua/plan_task.hpp"

namespace perdiem::lua {

PlanOutcome run_plan(std::string_view source, std::string_view chunk_name,
                     const std::vector<std::string>& args, const PlanLimits& limits,
                     PlanHost& host) {
  PlanTask task(source, chunk_name, args, limits, host);
  task.answer_chat_inline();  // this loop would answer each model.chat at once anyway
  while (task.resume() != PlanWait::finished) task.answer_from_host();
  return task.take_outcome();
}

}  // namespace perdiem::lua
