// PlanTask: one plan, one sandboxed state, one coroutine resumed by a driver.
#include "runtime/lua/plan_task.hpp"

#include <cctype>
#include <memory>

#include "runtime/lua/chunk_cache.hpp"
#include "runtime/lua/error_table.hpp"
#include "runtime/lua/json_bridge.hpp"
#include "runtime/lua/plan_bindings.hpp"
#include "runtime/lua/sandbox.hpp"

namespace perdiem::lua {
namespace {

// Heap granted once the script has stopped, so that a plan which exhausted its own
// still gets a traceback and a converted result.
constexpr std::size_t kReportReserve = 1u << 20;

const char kPlanThreadKey = 0;  // registry slot anchoring the plan's coroutine

PlanOutcome failed(Error error) {
  PlanOutcome outcome;
  outcome.error = std::move(error);
  return outcome;
}

Error out_of_memory(const Sandbox& sandbox, std::string source = {}) {
  return make_error(ErrorKind::limit, sandbox.memory_limit_message(), std::move(source));
}

// "plan.lua:3" from "plan.lua:3: unexpected symbol near 'x'".
std::string position_prefix(std::string_view message) {
  for (std::size_t colon = message.find(':'); colon != std::string_view::npos;
       colon = message.find(':', colon + 1)) {
    std::size_t end = colon + 1;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end > colon + 1 && end < message.size() && message[end] == ':') {
      return std::string(message.substr(0, end));
    }
  }
  return {};
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// The plan returned: its first result becomes the outcome's text and JSON.
PlanOutcome result_outcome(lua_State* L, lua_State* plan, int results, const PlanLimits& limits,
                           const Sandbox& sandbox) {
  PlanOutcome outcome;
  outcome.json = "null";
  if (results == 0) return outcome;
  lua_settop(plan, lua_gettop(plan) - results + 1);  // only the first result matters
  lua_xmove(plan, L, 1);
  const int type = lua_type(L, -1);
  if (type == LUA_TNIL) {
    lua_pop(L, 1);
    return outcome;
  }
  JsonLimits json_limits;
  json_limits.max_depth = limits.json_max_depth;
  json_limits.max_bytes = limits.memory_limit_bytes;
  // A result string is the plan's to shape; its JSON form replaces bytes that are not
  // UTF-8 rather than failing a run that has already spent money.
  Result<std::string> json = encode_json(L, -1, json_limits, InvalidUtf8::replace);
  if (type == LUA_TSTRING) {
    std::size_t length = 0;
    const char* text = lua_tolstring(L, -1, &length);
    outcome.text.assign(text, length);
  }
  lua_pop(L, 1);
  if (!json.ok()) {
    if (json.error().kind == ErrorKind::limit) return failed(out_of_memory(sandbox));
    return failed(make_error(ErrorKind::script, "the plan's result cannot be converted to JSON: " +
                                                    json.error().message));
  }
  outcome.json = std::move(json).value();
  if (type != LUA_TSTRING) outcome.text = outcome.json;
  return outcome;
}

// "kind: message" of a table a script raised as {kind=, message=} (the plan library's
// errors, which cannot be real error tables), or "" when the value is not one. Raw reads:
// no metamethod runs here.
std::string plain_table_message(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TTABLE) return {};
  std::string text;
  lua_pushstring(L, "kind");
  if (lua_rawget(L, index) == LUA_TSTRING) text = std::string(lua_tostring(L, -1)) + ": ";
  lua_pop(L, 1);
  lua_pushstring(L, "message");
  if (lua_rawget(L, index) == LUA_TSTRING) {
    text += lua_tostring(L, -1);
  } else {
    text.clear();
  }
  lua_pop(L, 1);
  return text;
}

// The plan raised: an error table keeps its kind, anything else is a script error with
// a traceback.
PlanOutcome error_outcome(lua_State* L, lua_State* plan, int status, const Sandbox& sandbox) {
  const std::string position = innermost_lua_line(plan);
  bool memory_exhausted = status == LUA_ERRMEM;
  Error error = make_error(ErrorKind::script, "the plan failed", position);
  lua_xmove(plan, L, 1);  // the error value
  const Status read = run_protected(L, 1, [&](lua_State* S) {
    if (std::optional<Error> carried = read_error_table(S, 1)) {
      error = std::move(*carried);
      if (error.source.empty()) error.source = position;
      return;
    }
    std::string message;
    if (lua_isstring(S, 1)) {
      std::size_t length = 0;
      const char* text = lua_tolstring(S, 1, &length);
      message.assign(text, length);
    } else if (std::string table_message = plain_table_message(S, 1); !table_message.empty()) {
      message = std::move(table_message);
    } else {
      message = std::string("(error object is a ") + luaL_typename(S, 1) + " value)";
    }
    // A script may catch the memory error and raise its message again.
    if (sandbox.memory_limit_reached() && ends_with(message, "not enough memory")) {
      memory_exhausted = true;
    }
    luaL_traceback(S, plan, message.c_str(), 0);
    error.message = lua_tostring(S, -1);
  });
  if (memory_exhausted) return failed(out_of_memory(sandbox, position));
  if (!read.ok()) error.message += " (its error could not be read: " + read.error().message + ")";
  return failed(std::move(error));
}

}  // namespace

PlanTask::PlanTask(std::string_view source, std::string_view chunk_name,
                   const std::vector<std::string>& args, const PlanLimits& limits, PlanHost& host)
    : context_(std::make_unique<PlanContext>()) {
  PlanContext& context = *context_;
  context.host = &host;
  context.limits = limits;

  SandboxLimits sandbox_limits;
  sandbox_limits.memory_limit_bytes = limits.memory_limit_bytes;
  sandbox_limits.instruction_limit = limits.instruction_limit;
  sandbox_limits.deadline = limits.deadline;
  sandbox_limits.cancel = host.cancel;
  sandbox_limits.monotonic_time = host.monotonic_time;
  sandbox_limits.time_slice = limits.time_slice;
  Result<std::unique_ptr<Sandbox>> created = Sandbox::create(std::move(sandbox_limits));
  if (!created.ok()) {
    finish(failed(created.error()));
    return;
  }
  sandbox_ = std::move(created).value();
  context.sandbox = sandbox_.get();
  lua_State* L = sandbox_->state();

  lua_State* plan = nullptr;
  const Status ready = run_protected(L, [&](lua_State* S) {
    install_plan_globals(S, context, args);
    plan = lua_newthread(S);
    lua_rawsetp(S, LUA_REGISTRYINDEX, &kPlanThreadKey);  // keeps the collector off it
  });
  if (plan != nullptr) sandbox_->watch_thread(plan);
  if (!ready.ok()) {
    if (ready.error().kind == ErrorKind::limit) {
      finish(failed(out_of_memory(*sandbox_)));
    } else {
      finish(failed(make_error(ErrorKind::internal,
                               "cannot set up the plan's globals: " + ready.error().message)));
    }
    return;
  }

  // "@name" makes Lua print the name as is in messages and tracebacks: "plan.lua:3:".
  const std::string chunk = "@" + std::string(chunk_name);
  const int loaded = load_text_chunk(plan, source, chunk.c_str());
  if (loaded == LUA_ERRMEM) {
    finish(failed(out_of_memory(*sandbox_)));
    return;
  }
  if (loaded != LUA_OK) {
    std::string message = lua_tostring(plan, -1);
    std::string position = position_prefix(message);
    finish(failed(make_error(ErrorKind::script, std::move(message), std::move(position))));
    return;
  }
  plan_ = plan;
  context.plan_thread = plan;
}

PlanTask::~PlanTask() {
  context_->finished = true;  // model.chat refuses from here on, while the state closes
  sandbox_.reset();
}

PlanWait PlanTask::finish(PlanOutcome outcome) {
  context_->finished = true;
  outcome_ = std::move(outcome);
  waiting_ = PlanWait::finished;
  return waiting_;
}

PlanWait PlanTask::resume() {
  if (outcome_) return PlanWait::finished;
  PlanContext& context = *context_;
  lua_State* L = sandbox_->state();
  int results = 0;
  sandbox_->begin_slice();
  const int status = lua_resume(plan_, L, 0, &results);
  if (status != LUA_YIELD) return finish_run(status, results);
  lua_pop(plan_, results);
  if (sandbox_->take_preempted()) {
    waiting_ = PlanWait::preempted;
    return waiting_;
  }
  // Each yield from model.chat, model.stream, sleep, ... parks exactly one request.
  if (context.pending) {
    waiting_ = context.stream ? PlanWait::stream : PlanWait::chat;
  } else if (context.pending_many) {
    waiting_ = PlanWait::chat_many;
  } else if (context.pending_embed) {
    waiting_ = PlanWait::embed;
  } else if (context.pending_sleep) {
    const SleepCut cut = cut_at_deadline(context, *context.pending_sleep);
    sleep_for_ = cut.duration;
    sleep_hits_deadline_ = cut.deadline_reached;
    waiting_ = PlanWait::sleep;
  } else if (context.pending_child) {
    waiting_ = PlanWait::child;
  } else if (context.pending_tools) {
    waiting_ = PlanWait::tools;
  } else {
    return finish(failed(make_error(ErrorKind::script,
                                    "coroutine.yield was called outside any coroutine the plan "
                                    "created; a plan's main function cannot yield",
                                    innermost_lua_line(plan_))));
  }
  return waiting_;
}

PlanWait PlanTask::finish_run(int status, int results) {
  context_->finished = true;
  lua_State* L = sandbox_->state();
  sandbox_->grant_reserve(kReportReserve);
  // A limit decides the outcome, whatever the script did after hitting it.
  if (sandbox_->stopped()) {
    Error error = *sandbox_->stopped();
    if (error.source.empty()) error.source = innermost_lua_line(plan_);
    return finish(failed(std::move(error)));
  }
  if (status == LUA_OK) {
    return finish(result_outcome(L, plan_, results, context_->limits, *sandbox_));
  }
  return finish(error_outcome(L, plan_, status, *sandbox_));
}

const providers::ChatRequest& PlanTask::chat_request() const {
  return *context_->pending;
}

const std::vector<providers::ChatRequest>& PlanTask::many_requests() const {
  return *context_->pending_many;
}

const providers::EmbedRequest& PlanTask::embed_request() const {
  return *context_->pending_embed;
}

const std::string& PlanTask::child_run_id() const {
  return *context_->pending_child;
}

const std::vector<std::pair<std::string, std::string>>& PlanTask::tool_calls() const {
  return *context_->pending_tools;
}

std::chrono::nanoseconds PlanTask::sleep_duration() const {
  return sleep_for_;
}

DeltaSink PlanTask::delta_sink() {
  PlanContext* context = context_.get();
  lua_State* runner = sandbox_->state();
  return [context, runner](std::string_view text) {
    return context->stream && run_on_delta(runner, *context, *context->stream, text);
  };
}

void PlanTask::answer_chat_inline() {
  context_->answer_inline = true;
}

void PlanTask::answer_chat(Result<providers::ChatResponse> answer) {
  context_->pending.reset();
  context_->answer = std::move(answer);
}

void PlanTask::answer_many(std::vector<Result<providers::ChatResponse>> answers) {
  context_->pending_many.reset();
  context_->many_answers = std::move(answers);
}

void PlanTask::answer_embed(Result<providers::EmbedResponse> answer) {
  context_->pending_embed.reset();
  context_->embed_answer = std::move(answer);
}

void PlanTask::answer_sleep(Status status) {
  context_->pending_sleep.reset();
  context_->slept = SleepResult{std::move(status), sleep_hits_deadline_};
}

void PlanTask::answer_child(Result<SpawnResult> answer) {
  context_->pending_child.reset();
  context_->child_answer = std::move(answer);
}

void PlanTask::answer_tools(std::vector<Result<std::string>> answers) {
  context_->pending_tools.reset();
  context_->tool_answers = std::move(answers);
}

void PlanTask::answer_from_host() {
  PlanContext& context = *context_;
  PlanHost& host = *context.host;
  switch (waiting_) {
    case PlanWait::chat:
      answer_chat(ask_host(host, *context.pending));
      break;
    case PlanWait::stream: {
      const providers::ChatRequest request = std::move(*context.pending);
      // model.stream: its on_delta runs here, on the main thread, during the call.
      answer_chat(ask_host_stream(sandbox_->state(), context, request, *context.stream));
      break;
    }
    case PlanWait::chat_many:
      answer_many(ask_host_many(host, *context.pending_many));
      break;
    case PlanWait::embed:
      answer_embed(ask_host_embed(host, *context.pending_embed));
      break;
    case PlanWait::sleep:
      answer_sleep(wait_for_plan(context, sleep_for_));
      break;
    case PlanWait::child:
      answer_child(ask_host_child(host, *context.pending_child));
      break;
    case PlanWait::tools:
      answer_tools(ask_host_tools(host, *context.pending_tools));
      break;
    case PlanWait::preempted:
    case PlanWait::finished:
      break;
  }
}

bool PlanTask::cancel_requested() const {
  return sandbox_ != nullptr && sandbox_->cancel_requested();
}

PlanOutcome PlanTask::take_outcome() {
  PlanOutcome outcome = std::move(*outcome_);
  outcome_.reset();
  return outcome;
}

}  // namespace perdiem::lua
