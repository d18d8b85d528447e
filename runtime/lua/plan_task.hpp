// A plan as a task a driver resumes: run_plan's loop, taken apart so that an event loop
// can hold thousands of them and answer what each waits for whenever the answer comes.
//
// resume() runs the plan until it waits for the host (a model call, an embedding, a
// tool, a sleep, a sub-agent) or ends. The driver then takes the request, answers it (now, or
// later from a timer or an I/O completion) with the matching answer_*(), and resumes
// again. answer_from_host() answers the current wait synchronously through PlanHost, as
// run_plan does.
//
// Thread-safety: none. A task is used from one thread at a time (the scheduler keeps a
// task on one loop thread for its life); the host's callbacks run on that thread.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/lua/plan.hpp"

struct lua_State;

namespace perdiem::lua {

struct PlanContext;
class Sandbox;

// What a suspended plan waits for.
enum class PlanWait {
  finished,   // the plan has ended: take_outcome()
  chat,       // model.chat: chat_request(), then answer_chat()
  stream,     // model.stream: chat_request(), deltas to delta_sink(), then answer_chat()
  chat_many,  // model.chat_many or parallel's batch: many_requests(), then answer_many()
  embed,      // model.embed: embed_request(), then answer_embed()
  sleep,      // sleep(): sleep_duration(), then answer_sleep()
  child,      // child:await(): child_run_id(), then answer_child()
  tools,      // tool.call, tool.run: tool_calls(), then answer_tools()
  preempted,  // the plan used up its time slice: resume it again, after others
};

class PlanTask {
 public:
  // Sets up the plan's sandbox and loads `source`; when that fails, the task is already
  // finished and resume() returns `finished` with the error as its outcome. `host` must
  // outlive the task.
  PlanTask(std::string_view source, std::string_view chunk_name,
           const std::vector<std::string>& args, const PlanLimits& limits, PlanHost& host);
  ~PlanTask();
  PlanTask(const PlanTask&) = delete;
  PlanTask& operator=(const PlanTask&) = delete;

  // Runs the plan until it waits or ends. Call only with no wait outstanding: after
  // construction, or once the current wait is answered.
  PlanWait resume();
  PlanWait waiting() const { return waiting_; }

  // The current wait's request. Valid until it is answered.
  const providers::ChatRequest& chat_request() const;                // chat, stream
  const std::vector<providers::ChatRequest>& many_requests() const;  // chat_many
  const providers::EmbedRequest& embed_request() const;              // embed
  const std::string& child_run_id() const;                           // child
  // tools: (name, JSON arguments) of each host tool call, in order.
  const std::vector<std::pair<std::string, std::string>>& tool_calls() const;
  // sleep: how long to wait, already cut at the deadline.
  std::chrono::nanoseconds sleep_duration() const;

  // stream: hands text to the plan's on_delta, on this task's thread, between the wait
  // and its answer. Returns false once the plan wants no more (on_delta raised, a limit
  // was hit): the caller should stop the call. Valid until answer_chat().
  DeltaSink delta_sink();

  void answer_chat(Result<providers::ChatResponse> answer);
  void answer_many(std::vector<Result<providers::ChatResponse>> answers);
  void answer_embed(Result<providers::EmbedResponse> answer);
  // sleep: how the wait went (a host error reaches the plan as an error table).
  void answer_sleep(Status status = {});
  void answer_child(Result<SpawnResult> answer);
  void answer_tools(std::vector<Result<std::string>> answers);

  // Answers the current wait through the host, blocking this thread meanwhile.
  void answer_from_host();
  // For a driver that would answer each model.chat through the host at once anyway
  // (run_plan): the call asks the host inline instead of waiting as PlanWait::chat. Never
  // for an event loop, whose answers come later.
  void answer_chat_inline();

  // PlanHost's cancel flag is set: the plan stops with kind `cancelled` when resumed.
  bool cancel_requested() const;

  // The result once resume() returned `finished`. Call once.
  PlanOutcome take_outcome();

 private:
  PlanWait finish(PlanOutcome outcome);
  PlanWait finish_run(int status, int results);

  std::unique_ptr<PlanContext> context_;
  std::unique_ptr<Sandbox> sandbox_;
  lua_State* plan_ = nullptr;
  PlanWait waiting_ = PlanWait::finished;
  bool sleep_hits_deadline_ = false;
  std::chrono::nanoseconds sleep_for_{0};
  std::optional<PlanOutcome> outcome_;
};

}  // namespace perdiem::lua
