// model.embed(input [, {model=}]): embeddings of a string or an array of strings.
//
// Yields to the driver like model.chat (see model_binding.cpp), so a scheduler can
// suspend the plan for the call; the host meters it like any other.
#include <climits>
#include <exception>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"
#include "runtime/providers/embeddings_codec.hpp"

namespace perdiem::lua {
namespace {

using providers::EmbedRequest;
using providers::EmbedResponse;

constexpr const char* kUsage =
    "model.embed: expected a string or an array of strings, and optionally {model=...}";

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

std::string string_at(lua_State* L, int index) {
  std::size_t length = 0;
  const char* data = lua_tolstring(L, index, &length);
  return {data, length};
}

EmbedRequest read_embed_request(lua_State* L, std::size_t max_bytes) {
  EmbedRequest request;
  std::size_t total_bytes = 0;
  auto add = [&](int index) {
    total_bytes += lua_rawlen(L, index) + sizeof(std::string);
    if (total_bytes > max_bytes) {
      luaL_error(L, "model.embed: the texts take more than %d bytes",
                 static_cast<int>(std::min<std::size_t>(max_bytes, INT_MAX)));
    }
    request.inputs.push_back(string_at(L, index));
  };
  if (lua_type(L, 1) == LUA_TSTRING) {
    add(1);
  } else if (lua_type(L, 1) == LUA_TTABLE) {
    const lua_Unsigned count = lua_rawlen(L, 1);
    if (count == 0 || count > providers::kMaxEmbedInputs) {
      luaL_error(L, "model.embed: give 1 to %d texts",
                 static_cast<int>(providers::kMaxEmbedInputs));
    }
    for (lua_Unsigned i = 1; i <= count; ++i) {
      if (lua_rawgeti(L, 1, static_cast<lua_Integer>(i)) != LUA_TSTRING) luaL_error(L, kUsage);
      add(lua_gettop(L));
      lua_pop(L, 1);
    }
  } else {
    luaL_error(L, kUsage);
  }
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TTABLE) luaL_error(L, kUsage);
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING || std::string_view(lua_tostring(L, -1)) != "model") {
        luaL_error(L, "model.embed: the only option is model");
      }
    }
    lua_pushstring(L, "model");
    const int type = lua_rawget(L, 2);
    if (type == LUA_TSTRING) {
      request.model = string_at(L, -1);
    } else if (type != LUA_TNIL) {
      luaL_error(L, "model.embed: model must be a string");
    }
    lua_pop(L, 1);
  }
  return request;
}

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

// {vectors={{..},..}, vector=vectors[1] (for a single string), model=, provider=,
// usage={input=}, cost=, cost_nanos=, receipt=}, or raises the error table.
int deliver(lua_State* L, const Result<EmbedResponse>& answer, bool single) {
  if (!answer.ok()) {
    push_error_table(L, answer.error());
    if (!answer.error().source.empty()) set_string(L, "provider", answer.error().source);
    lua_error(L);
  }
  const EmbedResponse& response = answer.value();
  lua_createtable(L, 0, 8);
  lua_createtable(L, static_cast<int>(response.vectors.size()), 0);
  for (std::size_t i = 0; i < response.vectors.size(); ++i) {
    const auto& vector = response.vectors[i];
    lua_createtable(L, static_cast<int>(vector.size()), 0);
    for (std::size_t d = 0; d < vector.size(); ++d) {
      lua_pushnumber(L, static_cast<lua_Number>(vector[d]));
      lua_rawseti(L, -2, static_cast<lua_Integer>(d + 1));
    }
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  if (single && !response.vectors.empty()) {
    lua_rawgeti(L, -1, 1);
    lua_setfield(L, -3, "vector");
  }
  lua_setfield(L, -2, "vectors");
  set_string(L, "model", response.model);
  set_string(L, "provider", response.provider);
  lua_createtable(L, 0, 1);
  lua_pushinteger(L, response.usage.input_tokens);
  lua_setfield(L, -2, "input");
  lua_setfield(L, -2, "usage");
  push_usd(L, response.cost_nanos);
  lua_setfield(L, -2, "cost");
  lua_pushinteger(L, response.cost_nanos);
  lua_setfield(L, -2, "cost_nanos");
  set_string(L, "receipt", response.receipt_id);
  return 1;
}

int model_embed_continue(lua_State* L, int, lua_KContext raw_context) {
  auto& context = *reinterpret_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
  context.sandbox->check(L);
  if (!context.embed_answer) {
    return luaL_error(L, "model.embed: the plan was resumed without an answer (a perdiem bug)");
  }
  const Result<EmbedResponse> answer = std::move(*context.embed_answer);
  context.embed_answer.reset();
  return deliver(L, answer, raw_context != 0);
}

int model_embed(lua_State* L) {
  PlanContext& context = context_of(L);
  if (context.finished) return luaL_error(L, "model.embed: the plan has already finished");
  refuse_inside_on_delta(L, context, "model.embed");
  const bool single = lua_type(L, 1) == LUA_TSTRING;
  EmbedRequest request = read_embed_request(L, context.limits.memory_limit_bytes);
  context.sandbox->check(L);
  if (L == context.plan_thread && lua_isyieldable(L)) {
    context.pending_embed = std::move(request);
    context.embed_answer.reset();
    return lua_yieldk(L, 0, static_cast<lua_KContext>(single ? 1 : 0), model_embed_continue);
  }
  const Result<EmbedResponse> answer = ask_host_embed(*context.host, request);
  context.sandbox->check(L);
  return deliver(L, answer, single);
}

}  // namespace

Result<EmbedResponse> ask_host_embed(PlanHost& host, const EmbedRequest& request) {
  return call_host<EmbedResponse>(host.embed, request, "model.embed");
}

void add_model_embed(lua_State* L, PlanContext& context) {
  lua_pushlightuserdata(L, &context);
  lua_pushcclosure(L, model_embed, 1);
  lua_setfield(L, -2, "embed");
}

}  // namespace perdiem::lua
