// What a run reports while it runs: one StepEvent when a model call starts and one when
// it finishes, with what was sent, what came back, who served it and what it cost.
// Between the two, a chat step whose answer is streamed (the plan called model.stream, or
// RuntimeOptions::stream_chat is set) reports each piece of the answer's text as it
// arrives: `delta` events, in order, whose delta_text pieces concatenate to the finished
// event's response_text when the call succeeds (a call that fails part-way has sent only
// the pieces that arrived).
//
// Thread-safety: a step's `started` comes before its `finished`. Steps of one run arrive
// in order on the thread running the run, except the calls of one model.chat_many, which
// run at once on threads of their own and report from there; events of different runs
// arrive concurrently. So a callback must synchronise what it touches. A callback must not block
// for long: the run waits for it. Exceptions thrown by a callback are caught and dropped.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "perdiem/error.hpp"

namespace perdiem {

enum class StepKind { chat, embed, tool };
// New phases are appended, so a value never changes meaning.
enum class StepPhase { started, finished, delta };

struct StepEvent {
  std::string run_id;
  std::int64_t step = 0;  // 1, 2, ... within the run; one step per logical call
  StepKind kind = StepKind::chat;
  StepPhase phase = StepPhase::started;
  std::string provider;  // who was asked (started) or who answered (finished); "tool"
  std::string model;     // the model, or for a tool call the tool's name
  // The request as sent, as OpenAI-style JSON (API keys are never part of it); for a
  // tool call {"name":..., "arguments":...}.
  std::string request_json;
  // finished only: the answer's text (chat) or the tool's result, and the outcome.
  std::string response_text;
  std::optional<Error> error;  // finished: set when the call failed
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cost_nanos = 0;           // what the wallet charged for this call
  std::string receipt_id;                // its signed receipt ("" when none)
  std::chrono::milliseconds latency{0};  // finished: the call's wall time, retries included
  // delta only: the next piece of the answer's text (the other fields are the started
  // event's). Members added after the first release carry `{}` initializers, so existing
  // aggregate initializations stay valid.
  std::string delta_text{};
};

// A run starting or ending (RuntimeOptions::on_run): a run the app started, or a
// sub-agent one started with agent.spawn. With step events, what a dashboard needs to
// show which agents are running. A run refused before it starts (invalid options) reports
// neither; every run that reports `started` reports `finished` once, after its last step
// and after its sub-agents' `finished`, and before its result is handed back (run_file
// returns, a background run's wait() does). Its trace may reach memory.db just after.
enum class RunPhase { started, finished };

struct RunEvent {
  std::string run_id;
  RunPhase phase = RunPhase::started;
  int depth = 0;  // 0: a run the app started; 1: its sub-agents; 2: theirs, ...
  std::string parent_run_id;  // the run that spawned this one; "" for a run the app started
  // finished only: why the run failed (none when it succeeded, kind `cancelled` when it
  // was cancelled), and what it cost, its sub-agents' spending included.
  std::optional<Error> error;
  std::int64_t cost_nanos = 0;
};

}  // namespace perdiem
