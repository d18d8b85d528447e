// model.chat{model=, messages={{role=, content=}, ...}, max_tokens=, temperature=}
// (model.stream, the same with on_delta=, is in stream_binding.cpp)
//
// On the plan's own thread the call yields to the driver, which asks the host and
// resumes the plan with the answer: the shape an event-loop scheduler needs. Anywhere a
// yield would not reach the driver (a coroutine the script created, or a C boundary such
// as table.sort's comparator), or when the driver answers at once anyway (run_plan,
// PlanTask::answer_chat_inline), the host is asked inline instead.
#include <climits>
#include <cmath>
#include <exception>
#include <string_view>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

using providers::ChatRequest;
using providers::ChatResponse;

constexpr const char* kFields[] = {"model", "messages",    "max_tokens", "temperature",
                                   "tools", "tool_choice", "route"};
constexpr const char* kBadMessages =
    "model.chat: messages must be a non-empty array of {role=, content=} tables";

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// Raw reads only: a metamethod on the argument table could otherwise try to yield
// across this C function.
int raw_field(lua_State* L, int table, const char* key) {
  lua_pushstring(L, key);
  return lua_rawget(L, table);
}

std::string top_string(lua_State* L) {
  std::size_t length = 0;
  const char* data = lua_tolstring(L, -1, &length);
  return {data, length};
}

void check_fields(lua_State* L) {
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      luaL_error(L,
                 "model.chat: unexpected positional value; the fields are model, "
                 "messages, max_tokens, temperature, tools, tool_choice and route");
    }
    const std::string_view name = lua_tostring(L, -1);
    bool known = false;
    for (const char* field : kFields) known = known || name == field;
    if (!known) luaL_error(L, "model.chat: unknown field '%s'", lua_tostring(L, -1));
  }
}

// A "tool" message's tool_call_id; an "assistant" message's tool_calls (as the reply's
// tool_calls: {id=, name=, arguments=} with arguments a JSON string).
void read_tool_parts(lua_State* L, int message, int index, providers::Message& entry) {
  if (entry.role == "tool") {
    if (raw_field(L, message, "tool_call_id") != LUA_TSTRING) {
      luaL_error(L, "model.chat: messages[%d] (a tool result) needs tool_call_id", index);
    }
    entry.tool_call_id = top_string(L);
    lua_pop(L, 1);
    return;
  }
  if (entry.role != "assistant" || raw_field(L, message, "tool_calls") == LUA_TNIL) {
    if (entry.role == "assistant") lua_pop(L, 1);
    return;
  }
  const int calls = lua_gettop(L);
  if (!lua_istable(L, calls))
    luaL_error(L, "model.chat: messages[%d].tool_calls must be an array", index);
  const lua_Unsigned count = lua_rawlen(L, calls);
  for (lua_Unsigned c = 1; c <= count; ++c) {
    if (lua_rawgeti(L, calls, static_cast<lua_Integer>(c)) != LUA_TTABLE) {
      luaL_error(L, "model.chat: messages[%d].tool_calls[%d] must be a table", index,
                 static_cast<int>(c));
    }
    const int call = lua_gettop(L);
    providers::ToolCall tool_call;
    const char* parts[] = {"id", "name", "arguments"};
    std::string* fields[] = {&tool_call.id, &tool_call.name, &tool_call.arguments};
    for (int f = 0; f < 3; ++f) {
      if (raw_field(L, call, parts[f]) != LUA_TSTRING) {
        luaL_error(L, "model.chat: messages[%d].tool_calls[%d].%s must be a string", index,
                   static_cast<int>(c), parts[f]);
      }
      *fields[f] = top_string(L);
      lua_pop(L, 1);
    }
    entry.tool_calls.push_back(std::move(tool_call));
    lua_settop(L, calls);
  }
  lua_settop(L, calls - 1);
}

void read_messages(lua_State* L, ChatRequest& request, std::size_t max_bytes) {
  if (raw_field(L, 1, "messages") != LUA_TTABLE) luaL_error(L, kBadMessages);
  const int messages = lua_gettop(L);
  const lua_Unsigned count = lua_rawlen(L, messages);
  if (count == 0) luaL_error(L, kBadMessages);
  // The same long string (or message table) may appear many times in the array: bound
  // the copy the host makes, not just the Lua heap.
  std::size_t total_bytes = 0;
  for (lua_Unsigned i = 1; i <= count; ++i) {
    if (lua_rawgeti(L, messages, static_cast<lua_Integer>(i)) != LUA_TTABLE) {
      luaL_error(L, kBadMessages);
    }
    const int message = lua_gettop(L);
    providers::Message entry;
    if (raw_field(L, message, "role") != LUA_TSTRING) {
      luaL_error(L, "model.chat: messages[%d].role must be a string", static_cast<int>(i));
    }
    entry.role = top_string(L);
    if (entry.role != "system" && entry.role != "user" && entry.role != "assistant" &&
        entry.role != "tool") {
      luaL_error(L,
                 "model.chat: messages[%d].role must be \"system\", \"user\", \"assistant\" or "
                 "\"tool\"",
                 static_cast<int>(i));
    }
    read_tool_parts(L, message, static_cast<int>(i), entry);
    const int content_type = raw_field(L, message, "content");
    // An assistant turn that only called tools may have no text.
    const bool may_be_empty = entry.role == "assistant" && !entry.tool_calls.empty();
    if (content_type != LUA_TSTRING && !(may_be_empty && content_type == LUA_TNIL)) {
      luaL_error(L, "model.chat: messages[%d].content must be a string", static_cast<int>(i));
    }
    std::size_t length = 0;
    const char* content = content_type == LUA_TSTRING ? lua_tolstring(L, -1, &length) : "";
    total_bytes += sizeof(providers::Message) + entry.role.size() + length;
    if (total_bytes > max_bytes) {
      luaL_error(L, "model.chat: the messages take more than %d bytes",
                 static_cast<int>(std::min<std::size_t>(max_bytes, INT_MAX)));
    }
    entry.content.assign(content, length);
    request.messages.push_back(std::move(entry));
    lua_settop(L, messages);
  }
  lua_settop(L, messages - 1);
}

}  // namespace

ChatRequest read_chat_request(lua_State* L, std::size_t max_bytes) {
  if (lua_type(L, 1) != LUA_TTABLE) {
    luaL_error(L,
               "model.chat: expected a table, as in "
               "model.chat{messages={{role=\"user\", content=\"hi\"}}}");
  }
  lua_settop(L, 1);
  check_fields(L);
  ChatRequest request;

  switch (raw_field(L, 1, "model")) {
    case LUA_TNIL:
      break;  // the host picks its default
    case LUA_TSTRING:
      request.model = top_string(L);
      break;
    default:
      luaL_error(L, "model.chat: model must be a string");
  }
  lua_pop(L, 1);

  read_messages(L, request, max_bytes);

  if (raw_field(L, 1, "max_tokens") != LUA_TNIL) {
    int is_integer = 0;
    const lua_Integer max_tokens = lua_tointegerx(L, -1, &is_integer);
    if (lua_type(L, -1) != LUA_TNUMBER || !is_integer || max_tokens < 1 || max_tokens > INT_MAX) {
      luaL_error(L, "model.chat: max_tokens must be a positive integer");
    }
    request.max_tokens = static_cast<int>(max_tokens);
  }
  lua_pop(L, 1);

  if (raw_field(L, 1, "temperature") != LUA_TNIL) {
    const lua_Number temperature = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !std::isfinite(temperature) || temperature < 0) {
      luaL_error(L, "model.chat: temperature must be a number of 0 or more");
    }
    request.temperature = temperature;
  }
  lua_pop(L, 1);

  // tools: the names of tools the model may call; the host fills in their schemas.
  if (raw_field(L, 1, "tools") != LUA_TNIL) {
    if (!lua_istable(L, -1)) luaL_error(L, "model.chat: tools must be an array of tool names");
    const lua_Unsigned count = lua_rawlen(L, -1);
    for (lua_Unsigned i = 1; i <= count; ++i) {
      if (lua_rawgeti(L, -1, static_cast<lua_Integer>(i)) != LUA_TSTRING) {
        luaL_error(L, "model.chat: tools must be an array of tool names");
      }
      request.tools.push_back(providers::ToolDefinition{top_string(L)});
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (raw_field(L, 1, "tool_choice") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "model.chat: tool_choice must be a string");
    request.tool_choice = top_string(L);
  }
  lua_pop(L, 1);
  read_route_preferences(L, 1, request);
  return request;
}

namespace {

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

// Pushes the answer (push_chat_reply) and returns 1, or raises its error table.
int deliver(lua_State* L, const Result<ChatResponse>& answer) {
  push_chat_reply(L, answer);
  if (!answer.ok()) lua_error(L);
  return 1;
}

}  // namespace

void push_chat_reply(lua_State* L, const Result<ChatResponse>& answer) {
  if (!answer.ok()) {
    push_error_table(L, answer.error());
    if (!answer.error().source.empty()) set_string(L, "provider", answer.error().source);
    return;
  }
  const ChatResponse& response = answer.value();
  // Sized for every field set below, so the table is not rehashed as it fills.
  lua_createtable(L, 0, response.tool_calls.empty() ? 8 : 9);
  set_string(L, "content", response.content);
  set_string(L, "model", response.model);
  set_string(L, "provider", response.provider);
  set_string(L, "finish_reason", response.finish_reason);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, response.usage.input_tokens);
  lua_setfield(L, -2, "input");
  lua_pushinteger(L, response.usage.output_tokens);
  lua_setfield(L, -2, "output");
  lua_setfield(L, -2, "usage");
  push_usd(L, response.cost_nanos);
  lua_setfield(L, -2, "cost");
  lua_pushinteger(L, response.cost_nanos);
  lua_setfield(L, -2, "cost_nanos");
  set_string(L, "receipt", response.receipt_id);
  if (!response.tool_calls.empty()) {
    lua_createtable(L, static_cast<int>(response.tool_calls.size()), 0);
    for (std::size_t i = 0; i < response.tool_calls.size(); ++i) {
      const providers::ToolCall& call = response.tool_calls[i];
      lua_createtable(L, 0, 3);
      set_string(L, "id", call.id);
      set_string(L, "name", call.name);
      set_string(L, "arguments", call.arguments);
      lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
    }
    lua_setfield(L, -2, "tool_calls");
  }
}

namespace {

// Runs when the driver resumes the plan after answering the parked request.
int model_chat_continue(lua_State* L, int, lua_KContext raw_context) {
  auto& context = *reinterpret_cast<PlanContext*>(raw_context);
  context.sandbox->check(L);  // cancelled, or the deadline passed, during the call
  if (!context.answer) {
    return luaL_error(L, "model.chat: the plan was resumed without an answer (a perdiem bug)");
  }
  const Result<ChatResponse> answer = std::move(*context.answer);
  context.answer.reset();
  return deliver(L, answer);
}

// Reads model.chat's request into context.pending and says whether the plan should
// yield it to the driver (else it is answered in place).
bool read_pending_chat(lua_State* L, PlanContext& context) {
  if (context.finished) luaL_error(L, "model.chat: the plan has already finished");
  refuse_inside_on_delta(L, context, "model.chat");
  ChatRequest request = read_chat_request(L, context.limits.memory_limit_bytes);
  fill_tool_definitions(L, context, request);
  context.sandbox->check(L);  // no call, and no charge, once cancelled or out of time
  context.pending = std::move(request);
  context.answer.reset();
  // A parallel branch always yields: parallel() gathers its branches' calls into one batch.
  const bool inline_answer = context.answer_inline && context.parallel_branches == 0;
  return L == context.plan_thread && lua_isyieldable(L) && !inline_answer;
}

int answer_pending_chat(lua_State* L, PlanContext& context) {
  const ChatRequest request = std::move(*context.pending);
  context.pending.reset();
  const Result<ChatResponse> answer = ask_host(*context.host, request);
  context.sandbox->check(L);
  return deliver(L, answer);
}

// No C++ object is alive in this frame when it yields. A yield is a C++ throw in Lua
// built as C++, and a frame with something to destroy makes the unwinder stop there,
// run the cleanup and resume: about a third of a yield's cost (callgrind, stop 16).
int model_chat(lua_State* L) {
  PlanContext& context = context_of(L);
  if (read_pending_chat(L, context))
    return lua_yieldk(L, 0, reinterpret_cast<lua_KContext>(&context), model_chat_continue);
  return answer_pending_chat(L, context);
}

}  // namespace

Result<ChatResponse> ask_host(PlanHost& host, const ChatRequest& request) {
  return call_host<ChatResponse>(host.chat, request, "model.chat");
}

void push_model_module(lua_State* L, PlanContext& context) {
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, model_chat, 1);
  lua_setfield(L, -2, "chat");
  add_model_embed(L, context);
  add_model_chat_many(L, context);
  add_model_stream(L, context);
}

}  // namespace perdiem::lua
