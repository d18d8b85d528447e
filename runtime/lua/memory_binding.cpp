// memory.*: conversations, facts and search over the run's memory store.
//
//   memory.thread(name) -> thread; thread:append(role, content); thread:history{max_tokens=}
//   memory.set(ns, key, value); memory.get(ns, key); memory.delete(ns, key)
//   memory.remember(text, {ns=, tags=, source=, embed=, model=})
//   memory.recall(query, {k=, ns=, mode=, model=})
//
// Store calls run on the plan's thread: they are local SQLite work (reads never wait for
// the writer). Embeddings, when asked for, go through the host and are metered like
// model.embed.
#include <climits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/json_codec.hpp"
#include "runtime/lua/plan_bindings.hpp"
#include "runtime/memory/memory_store.hpp"

namespace perdiem::lua {
namespace {

constexpr std::int64_t kDefaultHistoryTokens = 4096;

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

memory::MemoryStore& store_of(lua_State* L, const char* function) {
  PlanContext& context = context_of(L);
  if (context.host->memory == nullptr) {
    push_error_table(L, make_error(ErrorKind::config,
                                   std::string(function) + ": this runtime has no memory store"));
    lua_error(L);
  }
  return *context.host->memory;
}

std::string checked_string(lua_State* L, int index, const char* what) {
  if (lua_type(L, index) != LUA_TSTRING) luaL_error(L, "%s must be a string", what);
  std::size_t length = 0;
  const char* data = lua_tolstring(L, index, &length);
  return {data, length};
}

// Raises the error as an error table the plan can catch.
[[noreturn]] void raise(lua_State* L, const Error& error) {
  push_error_table(L, error);
  lua_error(L);
  std::abort();  // lua_error does not return
}

template <typename T>
T value_or_raise(lua_State* L, Result<T> result) {
  if (!result) raise(L, result.error());
  return std::move(result).value();
}

void check_status(lua_State* L, const Status& status) {
  if (!status.ok()) raise(L, status.error());
}

// options[name] as a string, "" when absent.
std::string option_string(lua_State* L, int options, const char* name, const char* function) {
  if (lua_isnoneornil(L, options)) return {};
  lua_getfield(L, options, name);
  std::string value;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: %s must be a string", function, name);
    value = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  return value;
}

std::optional<lua_Integer> option_integer(lua_State* L, int options, const char* name,
                                          const char* function) {
  if (lua_isnoneornil(L, options)) return std::nullopt;
  lua_getfield(L, options, name);
  std::optional<lua_Integer> value;
  if (!lua_isnil(L, -1)) {
    int is_integer = 0;
    const lua_Integer n = lua_tointegerx(L, -1, &is_integer);
    if (!is_integer || n < 1) luaL_error(L, "%s: %s must be a positive integer", function, name);
    value = n;
  }
  lua_pop(L, 1);
  return value;
}

void check_options_table(lua_State* L, int index, const char* function) {
  if (!lua_isnoneornil(L, index) && lua_type(L, index) != LUA_TTABLE) {
    luaL_error(L, "%s: options must be a table", function);
  }
}

memory::EmbeddingModel embedding_model(lua_State* L, const std::string& name) {
  PlanContext& context = context_of(L);
  if (!context.host->embedding_model) {
    raise(L, make_error(ErrorKind::config, "this runtime has no embedding model"));
  }
  return value_or_raise(L, context.host->embedding_model(name));
}

void set_string(lua_State* L, const char* key, const std::string& value) {
  lua_pushlstring(L, value.data(), value.size());
  lua_setfield(L, -2, key);
}

// ---- threads ----

std::string thread_name(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "name");
  std::string name = checked_string(L, -1, "thread name (call as thread:method(...))");
  lua_pop(L, 1);
  return name;
}

int thread_append(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "thread:append");
  const std::string name = thread_name(L);
  const std::string role = checked_string(L, 2, "thread:append: role");
  const std::string content = checked_string(L, 3, "thread:append: content");
  memory::Message message = value_or_raise(L, store.append_message(name, role, content));
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, message.id);
  lua_setfield(L, -2, "id");
  set_string(L, "role", message.role);
  set_string(L, "content", message.content);
  lua_pushinteger(L, message.tokens);
  lua_setfield(L, -2, "tokens");
  return 1;
}

int thread_history(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "thread:history");
  const std::string name = thread_name(L);
  check_options_table(L, 2, "thread:history");
  const std::int64_t budget =
      option_integer(L, 2, "max_tokens", "thread:history").value_or(kDefaultHistoryTokens);
  std::vector<memory::Message> messages = value_or_raise(L, store.history(name, budget));
  lua_createtable(L, static_cast<int>(std::min<std::size_t>(messages.size(), INT_MAX)), 0);
  for (std::size_t i = 0; i < messages.size(); ++i) {
    lua_createtable(L, 0, 2);
    set_string(L, "role", messages[i].role);
    set_string(L, "content", messages[i].content);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

int memory_thread(lua_State* L) {
  const std::string name = checked_string(L, 1, "memory.thread: name");
  if (name.empty()) luaL_error(L, "memory.thread: name must not be empty");
  lua_createtable(L, 0, 3);
  set_string(L, "name", name);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, thread_append, 1);
  lua_setfield(L, -2, "append");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushcclosure(L, thread_history, 1);
  lua_setfield(L, -2, "history");
  return 1;
}

// ---- facts ----

int memory_set(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "memory.set");
  const std::string ns = checked_string(L, 1, "memory.set: namespace");
  const std::string key = checked_string(L, 2, "memory.set: key");
  luaL_checkany(L, 3);
  JsonLimits limits;
  limits.max_depth = context_of(L).limits.json_max_depth;
  limits.max_bytes = context_of(L).limits.memory_limit_bytes;
  nlohmann::json value = value_or_raise(L, to_json(L, 3, limits));
  check_status(L, store.set_fact(ns, key, value));
  return 0;
}

int memory_get(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "memory.get");
  const std::string ns = checked_string(L, 1, "memory.get: namespace");
  const std::string key = checked_string(L, 2, "memory.get: key");
  std::optional<nlohmann::json> value = value_or_raise(L, store.get_fact(ns, key));
  if (!value) {
    lua_pushnil(L);
    return 1;
  }
  JsonLimits limits;
  limits.max_depth = context_of(L).limits.json_max_depth;
  limits.max_bytes = context_of(L).limits.memory_limit_bytes;
  json_codec::decode(L, value->dump(), limits);
  return 1;
}

int memory_delete(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "memory.delete");
  const std::string ns = checked_string(L, 1, "memory.delete: namespace");
  const std::string key = checked_string(L, 2, "memory.delete: key");
  lua_pushboolean(L, value_or_raise(L, store.delete_fact(ns, key)));
  return 1;
}

// ---- search ----

int memory_remember(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "memory.remember");
  const std::string text = checked_string(L, 1, "memory.remember: text");
  check_options_table(L, 2, "memory.remember");
  memory::RememberOptions options;
  if (std::string ns = option_string(L, 2, "ns", "memory.remember"); !ns.empty()) options.ns = ns;
  options.source = option_string(L, 2, "source", "memory.remember");
  if (!lua_isnoneornil(L, 2)) {
    lua_getfield(L, 2, "tags");
    if (lua_type(L, -1) == LUA_TTABLE) {
      const lua_Unsigned count = lua_rawlen(L, -1);
      for (lua_Unsigned i = 1; i <= count; ++i) {
        lua_rawgeti(L, -1, static_cast<lua_Integer>(i));
        options.tags.push_back(checked_string(L, -1, "memory.remember: each tag"));
        lua_pop(L, 1);
      }
    } else if (!lua_isnil(L, -1)) {
      luaL_error(L, "memory.remember: tags must be an array of strings");
    }
    lua_pop(L, 1);
  }
  bool embed = false;
  if (!lua_isnoneornil(L, 2)) {
    lua_getfield(L, 2, "embed");
    embed = lua_toboolean(L, -1) != 0;
    lua_pop(L, 1);
  }
  std::optional<memory::EmbeddingModel> model;
  if (embed) {
    model = embedding_model(L, option_string(L, 2, "model", "memory.remember"));
    options.embedding = &*model;
  }
  memory::Remembered remembered = value_or_raise(L, store.remember(text, options));
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, remembered.document_id);
  lua_setfield(L, -2, "document");
  lua_pushinteger(L, static_cast<lua_Integer>(remembered.chunk_ids.size()));
  lua_setfield(L, -2, "chunks");
  lua_pushinteger(L, static_cast<lua_Integer>(remembered.newly_embedded));
  lua_setfield(L, -2, "embedded");
  return 1;
}

int memory_recall(lua_State* L) {
  memory::MemoryStore& store = store_of(L, "memory.recall");
  const std::string query = checked_string(L, 1, "memory.recall: query");
  check_options_table(L, 2, "memory.recall");
  memory::RecallOptions options;
  options.k = static_cast<std::size_t>(option_integer(L, 2, "k", "memory.recall").value_or(5));
  options.ns = option_string(L, 2, "ns", "memory.recall");
  const std::string mode = option_string(L, 2, "mode", "memory.recall");
  options.mode = value_or_raise(L, memory::parse_recall_mode(mode.empty() ? "text" : mode));
  std::optional<memory::EmbeddingModel> model;
  if (options.mode != memory::RecallMode::text) {
    model = embedding_model(L, option_string(L, 2, "model", "memory.recall"));
    options.embedding = &*model;
  }
  std::vector<memory::RecallHit> hits = value_or_raise(L, store.recall(query, options));
  lua_createtable(L, static_cast<int>(std::min<std::size_t>(hits.size(), INT_MAX)), 0);
  for (std::size_t i = 0; i < hits.size(); ++i) {
    const memory::RecallHit& hit = hits[i];
    lua_createtable(L, 0, 7);
    set_string(L, "text", hit.text);
    set_string(L, "ns", hit.ns);
    set_string(L, "source", hit.source);
    lua_pushnumber(L, hit.score);
    lua_setfield(L, -2, "score");
    lua_pushinteger(L, hit.rank);
    lua_setfield(L, -2, "rank");
    lua_pushinteger(L, hit.chunk_id);
    lua_setfield(L, -2, "chunk");
    lua_pushinteger(L, hit.document_id);
    lua_setfield(L, -2, "document");
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

}  // namespace

void push_memory_module(lua_State* L, PlanContext& context) {
  const std::pair<const char*, lua_CFunction> functions[] = {
      {"thread", memory_thread}, {"set", memory_set},           {"get", memory_get},
      {"delete", memory_delete}, {"remember", memory_remember}, {"recall", memory_recall},
  };
  lua_createtable(L, 0, 6);
  for (const auto& [name, function] : functions) {
    lua_pushlightuserdata(L, &context);
    lua_pushcclosure(L, function, 1);
    lua_setfield(L, -2, name);
  }
}

}  // namespace perdiem::lua
