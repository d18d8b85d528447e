// model.chat_many{request, request, ...}: several chats at once, answers in order.
//
// Yields to the driver with every request; the host sends them concurrently (each
// reserved, sent, settled and traced like a model.chat). A failed call does not hide the
// others' answers, which are already paid for: its place in the result holds its error
// table (with `kind`), so `reply.kind` tells a failure from an answer.
#include <climits>
#include <exception>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

using providers::ChatRequest;
using providers::ChatResponse;

// More requests than this in one call is a runaway plan, not a fan-out.
constexpr lua_Unsigned kMaxRequests = 256;

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// Called through lua_call with one request table as its argument (stack index 1, where
// read_chat_request reads); appends the parsed request to the vector in upvalue 1.
int read_one(lua_State* L) {
  auto& requests = *static_cast<std::vector<ChatRequest>*>(lua_touserdata(L, lua_upvalueindex(1)));
  const auto max_bytes = static_cast<std::size_t>(lua_tointeger(L, lua_upvalueindex(2)));
  requests.push_back(read_chat_request(L, max_bytes));
  fill_tool_definitions(L, *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(3))),
                        requests.back());
  return 0;
}

std::vector<ChatRequest> read_requests(lua_State* L, std::size_t max_bytes) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    luaL_error(L, "model.chat_many: expected an array of model.chat tables");
  }
  const lua_Unsigned count = lua_rawlen(L, 1);
  if (count == 0 || count > kMaxRequests) {
    luaL_error(L, "model.chat_many: give 1 to %d requests", static_cast<int>(kMaxRequests));
  }
  std::vector<ChatRequest> requests;
  requests.reserve(count);
  for (lua_Unsigned i = 1; i <= count; ++i) {
    lua_pushlightuserdata(L, &requests);
    lua_pushinteger(L, static_cast<lua_Integer>(std::min<std::size_t>(max_bytes, LUA_MAXINTEGER)));
    lua_pushlightuserdata(L, &context_of(L));
    lua_pushcclosure(L, read_one, 3);
    lua_rawgeti(L, 1, static_cast<lua_Integer>(i));
    lua_call(L, 1, 0);
  }
  return requests;
}

int deliver_all(lua_State* L, const std::vector<Result<ChatResponse>>& answers) {
  lua_createtable(L, static_cast<int>(std::min<std::size_t>(answers.size(), INT_MAX)), 0);
  for (std::size_t i = 0; i < answers.size(); ++i) {
    push_chat_reply(L, answers[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int chat_many_continue(lua_State* L, int, lua_KContext) {
  PlanContext& context = context_of(L);
  context.sandbox->check(L);
  if (!context.many_answers) {
    return luaL_error(L, "model.chat_many: resumed without answers (a perdiem bug)");
  }
  const std::vector<Result<ChatResponse>> answers = std::move(*context.many_answers);
  context.many_answers.reset();
  return deliver_all(L, answers);
}

int model_chat_many(lua_State* L) {
  PlanContext& context = context_of(L);
  if (context.finished) return luaL_error(L, "model.chat_many: the plan has already finished");
  refuse_inside_on_delta(L, context, "model.chat_many");
  std::vector<ChatRequest> requests = read_requests(L, context.limits.memory_limit_bytes);
  context.sandbox->check(L);
  if (L == context.plan_thread && lua_isyieldable(L)) {
    context.pending_many = std::move(requests);
    context.many_answers.reset();
    return lua_yieldk(L, 0, 0, chat_many_continue);
  }
  const std::vector<Result<ChatResponse>> answers = ask_host_many(*context.host, requests);
  context.sandbox->check(L);
  return deliver_all(L, answers);
}

}  // namespace

std::vector<Result<ChatResponse>> ask_host_many(PlanHost& host,
                                                const std::vector<ChatRequest>& requests) {
  if (host.chat_many) {
    try {
      return host.chat_many(requests);
    } catch (const std::exception& e) {
      return std::vector<Result<ChatResponse>>(
          requests.size(),
          make_error(ErrorKind::internal, std::string("the model host failed: ") + e.what()));
    } catch (...) {
      return std::vector<Result<ChatResponse>>(
          requests.size(), make_error(ErrorKind::internal, "the model host failed"));
    }
  }
  std::vector<Result<ChatResponse>> answers;
  answers.reserve(requests.size());
  for (const ChatRequest& request : requests) answers.push_back(ask_host(host, request));
  return answers;
}

void add_model_chat_many(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, model_chat_many, 1);
  lua_setfield(L, -2, "chat_many");
}

}  // namespace perdiem::lua
