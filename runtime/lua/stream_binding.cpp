// model.stream{...model.chat's fields..., on_delta=function(text) end}: model.chat whose
// answer reaches the plan while it arrives.
//
// Like model.chat, on the plan's own thread the call yields to run_plan's driver, which
// asks the host; anywhere else it asks the host inline. Either way on_delta runs *during*
// the host call, live, on the thread running the plan: the host hands each piece of text
// to a DeltaSink that calls on_delta in a protected call, on the state's main thread (the
// driver) or on the calling coroutine (inline). The sandbox's hook, heap and deadline
// cover it as they cover the plan. The function and the first error it raised are kept in
// registry slots made before the call, so storing that error never allocates.
//
// An error raised in on_delta stops the stream (the sink returns false; what the provider
// generated is paid for by the meter) and is raised again in the plan, as the same value,
// when the call returns, whatever the call's own outcome. While on_delta runs, model calls
// refuse: a call inside a call's stream would nest steps and block the stream.
#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

using providers::ChatRequest;
using providers::ChatResponse;

constexpr std::string_view kChatPrefix = "model.chat:";

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

struct DeltaCall {
  int function_ref;
  std::string_view text;
};

// Under lua_pcall: on_delta(text). 1: the DeltaCall.
int delta_trampoline(lua_State* L) {
  const auto* call = static_cast<const DeltaCall*>(lua_touserdata(L, 1));
  lua_rawgeti(L, LUA_REGISTRYINDEX, call->function_ref);
  lua_pushlstring(L, call->text.data(), call->text.size());
  lua_call(L, 1, 0);
  return 0;
}

}  // namespace

// The sink's body: runs on_delta on `runner` and says whether the stream may go on.
bool run_on_delta(lua_State* runner, PlanContext& context, StreamTarget& target,
                  std::string_view text) {
  if (target.failed) return false;
  // Cancelled or out of time: end the stream now rather than at on_delta's next hook.
  // The plan raises the limit's error when the call returns.
  if (context.sandbox->cancel_requested() ||
      context.sandbox->time_left() == std::chrono::nanoseconds::zero() ||
      context.sandbox->stopped()) {
    return false;
  }
  DeltaCall call{target.function_ref, text};
  ++context.in_on_delta;
  // A light C function and a light userdata: pushing them never allocates.
  lua_pushcfunction(runner, delta_trampoline);
  lua_pushlightuserdata(runner, &call);
  const int status = lua_pcall(runner, 1, 0, 0);
  --context.in_on_delta;
  if (status == LUA_OK) return true;
  // The slot exists already, so this never allocates: the error is kept, not lost.
  lua_rawseti(runner, LUA_REGISTRYINDEX, target.error_ref);
  target.failed = true;
  return false;
}

namespace {

// Called under lua_pcall with a copy of model.stream's table (on_delta removed) at 1.
// Upvalues: the ChatRequest to fill, the byte cap, the PlanContext.
int read_request(lua_State* L) {
  auto& request = *static_cast<ChatRequest*>(lua_touserdata(L, lua_upvalueindex(1)));
  const auto max_bytes = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(2)));
  request = read_chat_request(L, max_bytes);
  fill_tool_definitions(L, *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(3))),
                        request);
  return 0;
}

// The request in argument 1 (read as model.chat reads it, with errors naming
// model.stream), and on_delta pushed on the stack.
ChatRequest read_stream_request(lua_State* L, PlanContext& context) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    luaL_error(L,
               "model.stream: expected a table, as in model.stream{messages={{role=\"user\", "
               "content=\"hi\"}}, on_delta=function(text) log(text) end}");
  }
  lua_settop(L, 1);
  lua_pushliteral(L, "on_delta");
  if (lua_rawget(L, 1) != LUA_TFUNCTION) {
    luaL_error(L,
               "model.stream: on_delta must be a function, called with each piece of text "
               "(on_delta=function(text) ... end)");
  }
  // The fields without on_delta, for read_chat_request's check of unknown fields.
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && std::string_view(lua_tostring(L, -2)) == "on_delta") {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, 3);
  }
  ChatRequest request;
  lua_pushlightuserdata(L, &request);
  lua_pushinteger(L, static_cast<lua_Integer>(
                         std::min<std::size_t>(context.limits.memory_limit_bytes, LUA_MAXINTEGER)));
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, read_request, 3);
  lua_insert(L, 3);  // read_request, copy
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    std::size_t length = 0;
    const char* text = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &length) : nullptr;
    const std::string_view message =
        text == nullptr ? std::string_view() : std::string_view(text, length);
    if (message.starts_with(kChatPrefix)) {
      const std::string renamed = "model.stream:" + std::string(message.substr(kChatPrefix.size()));
      lua_pushlstring(L, renamed.data(), renamed.size());
    }
    lua_error(L);  // error tables (a refused tool) and memory errors go on as they are
  }
  return request;  // on_delta is at 2, the top
}

// Raises on_delta's error, or pushes the call's reply (raising its error table).
int finish_stream(lua_State* L, PlanContext& context, StreamTarget target,
                  const Result<ChatResponse>& answer) {
  if (target.failed) lua_rawgeti(L, LUA_REGISTRYINDEX, target.error_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, target.function_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, target.error_ref);
  context.sandbox->check(L);  // a limit on_delta hit, or one passed during the call
  if (target.failed) return lua_error(L);
  push_chat_reply(L, answer);
  if (!answer.ok()) return lua_error(L);
  return 1;
}

int model_stream_continue(lua_State* L, int, lua_KContext raw_context) {
  auto& context = *reinterpret_cast<PlanContext*>(raw_context);
  if (!context.answer || !context.stream) {
    return luaL_error(L, "model.stream: the plan was resumed without an answer (a perdiem bug)");
  }
  const StreamTarget target = *context.stream;
  context.stream.reset();
  const Result<ChatResponse> answer = std::move(*context.answer);
  context.answer.reset();
  return finish_stream(L, context, target, answer);
}

// model.stream's work: parks the stream for the driver (returns -1: the caller yields),
// or streams it in place (returns its results' count).
int model_stream_or_park(lua_State* L, PlanContext& context) {
  if (context.finished) return luaL_error(L, "model.stream: the plan has already finished");
  refuse_inside_on_delta(L, context, "model.stream");
  ChatRequest request = read_stream_request(L, context);
  luaL_checkstack(L, 4, "model.stream");  // what run_on_delta pushes on this thread, inline
  StreamTarget target;
  target.function_ref = luaL_ref(L, LUA_REGISTRYINDEX);  // pops on_delta
  lua_pushboolean(L, 0);
  target.error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  context.sandbox->check(L);  // no call, and no charge, once cancelled or out of time
  // In a parallel() branch too: parallel passes streams to its driver one at a time, as
  // embeddings (a batch of calls cannot stream to several on_delta at once).
  if (L == context.plan_thread && lua_isyieldable(L)) {
    context.pending = std::move(request);
    context.stream = target;
    context.answer.reset();
    return -1;
  }
  const Result<ChatResponse> answer = ask_host_stream(L, context, request, target);
  return finish_stream(L, context, target, answer);
}

// Yields from a frame with nothing to destroy, as model.chat does (model_binding.cpp).
int model_stream(lua_State* L) {
  PlanContext& context = context_of(L);
  const int results = model_stream_or_park(L, context);
  if (results < 0)
    return lua_yieldk(L, 0, reinterpret_cast<lua_KContext>(&context), model_stream_continue);
  return results;
}

}  // namespace

void refuse_inside_on_delta(lua_State* L, const PlanContext& context, const char* what) {
  if (context.in_on_delta > 0) {
    luaL_error(L,
               "%s cannot be called inside model.stream's on_delta: collect the text there "
               "and call it once the stream has returned",
               what);
  }
}

Result<ChatResponse> ask_host_streaming(PlanHost& host, const ChatRequest& request,
                                        const DeltaSink& on_delta) {
  if (!host.chat_stream) {
    Result<ChatResponse> answer = ask_host(host, request);
    if (answer && !answer.value().content.empty()) on_delta(answer.value().content);
    return answer;
  }
  const std::function<Result<ChatResponse>(const ChatRequest&)> stream =
      [&host, &on_delta](const ChatRequest& r) { return host.chat_stream(r, on_delta); };
  return call_host<ChatResponse>(stream, request, "model.stream");
}

Result<ChatResponse> ask_host_stream(lua_State* runner, PlanContext& context,
                                     const ChatRequest& request, StreamTarget& target) {
  const DeltaSink sink = [runner, &context, &target](std::string_view text) {
    return run_on_delta(runner, context, target, text);
  };
  return ask_host_streaming(*context.host, request, sink);
}

void add_model_stream(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, model_stream, 1);
  lua_setfield(L, -2, "stream");
}

}  // namespace perdiem::lua
