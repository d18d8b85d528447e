// run_plan: one plan, one sandboxed state, one coroutine driven to completion.
#include "runtime/lua/plan.hpp"

#include <cctype>
#include <memory>

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

// Sets `finished` on the way out of run_plan, before the sandbox closes.
struct FinishOnExit {
  PlanContext& context;
  ~FinishOnExit() { context.finished = true; }
};

}  // namespace

PlanOutcome run_plan(std::string_view source, std::string_view chunk_name,
                     const std::vector<std::string>& args, const PlanLimits& limits,
                     PlanHost& host) {
  PlanContext context;  // outlives the sandbox below
  context.host = &host;
  context.limits = limits;

  SandboxLimits sandbox_limits;
  sandbox_limits.memory_limit_bytes = limits.memory_limit_bytes;
  sandbox_limits.instruction_limit = limits.instruction_limit;
  sandbox_limits.deadline = limits.deadline;
  sandbox_limits.cancel = host.cancel;
  sandbox_limits.monotonic_time = host.monotonic_time;
  Result<std::unique_ptr<Sandbox>> created = Sandbox::create(std::move(sandbox_limits));
  if (!created.ok()) return failed(created.error());
  const std::unique_ptr<Sandbox> sandbox = std::move(created).value();
  context.sandbox = sandbox.get();
  FinishOnExit finish_on_exit{context};
  lua_State* L = sandbox->state();

  lua_State* plan = nullptr;
  const Status ready = run_protected(L, [&](lua_State* S) {
    install_plan_globals(S, context, args);
    plan = lua_newthread(S);
    lua_rawsetp(S, LUA_REGISTRYINDEX, &kPlanThreadKey);  // keeps the collector off it
  });
  if (plan != nullptr) sandbox->watch_thread(plan);
  if (!ready.ok()) {
    if (ready.error().kind == ErrorKind::limit) return failed(out_of_memory(*sandbox));
    return failed(make_error(ErrorKind::internal,
                             "cannot set up the plan's globals: " + ready.error().message));
  }

  // "@name" makes Lua print the name as is in messages and tracebacks: "plan.lua:3:".
  const std::string chunk = "@" + std::string(chunk_name);
  const int loaded = luaL_loadbufferx(plan, source.data(), source.size(), chunk.c_str(), "t");
  if (loaded == LUA_ERRMEM) return failed(out_of_memory(*sandbox));
  if (loaded != LUA_OK) {
    std::string message = lua_tostring(plan, -1);
    std::string position = position_prefix(message);
    return failed(make_error(ErrorKind::script, std::move(message), std::move(position)));
  }

  // Drive the plan: each yield from model.chat, model.stream or sleep parks a request;
  // answer it and resume.
  context.plan_thread = plan;
  for (;;) {
    int results = 0;
    const int status = lua_resume(plan, L, 0, &results);
    if (status == LUA_YIELD) {
      lua_pop(plan, results);
      if (context.pending) {
        const providers::ChatRequest request = std::move(*context.pending);
        context.pending.reset();
        // model.stream: its on_delta runs here, on the main thread, during the call.
        context.answer = context.stream ? ask_host_stream(L, context, request, *context.stream)
                                        : ask_host(host, request);
      } else if (context.pending_many) {
        const std::vector<providers::ChatRequest> requests = std::move(*context.pending_many);
        context.pending_many.reset();
        context.many_answers = ask_host_many(host, requests);
      } else if (context.pending_embed) {
        const providers::EmbedRequest request = std::move(*context.pending_embed);
        context.pending_embed.reset();
        context.embed_answer = ask_host_embed(host, request);
      } else if (context.pending_sleep) {
        const std::chrono::nanoseconds duration = *context.pending_sleep;
        context.pending_sleep.reset();
        context.slept = sleep_for_plan(context, duration);
      } else {
        return failed(make_error(ErrorKind::script,
                                 "coroutine.yield was called outside any coroutine the plan "
                                 "created; a plan's main function cannot yield",
                                 innermost_lua_line(plan)));
      }
      continue;
    }
    context.finished = true;
    sandbox->grant_reserve(kReportReserve);
    // A limit decides the outcome, whatever the script did after hitting it.
    if (sandbox->stopped()) {
      Error error = *sandbox->stopped();
      if (error.source.empty()) error.source = innermost_lua_line(plan);
      return failed(std::move(error));
    }
    if (status == LUA_OK) return result_outcome(L, plan, results, limits, *sandbox);
    return error_outcome(L, plan, status, *sandbox);
  }
}

}  // namespace perdiem::lua
