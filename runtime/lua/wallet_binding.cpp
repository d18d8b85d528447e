// wallet.address(), wallet.balance(), wallet.quote{...}, wallet.spent(): the plan's view
// of the wallet that pays for its calls. Amounts come as USD numbers for reading and as
// exact integers of nano-USD (the *_nanos fields, or a second return value) for sums.
#include <exception>

#include "runtime/lua/error_table.hpp"
#include "runtime/lua/plan_bindings.hpp"

namespace perdiem::lua {
namespace {

PlanContext& context_of(lua_State* L) {
  return *static_cast<PlanContext*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// Calls a host callback; a missing one or a C++ exception becomes an error table.
template <typename Callback, typename... Args>
auto ask(lua_State* L, const Callback& callback, Args&&... args) {
  using R = decltype(callback(std::forward<Args>(args)...));
  if (!callback) {
    raise_error_table(L, make_error(ErrorKind::config, "this runtime has no wallet"));
  }
  std::optional<R> result;
  try {
    result.emplace(callback(std::forward<Args>(args)...));
  } catch (const std::exception& e) {
    raise_error_table(
        L, make_error(ErrorKind::internal, std::string("the wallet host failed: ") + e.what()));
  }
  if (!result->ok()) raise_error_table(L, result->error());
  return std::move(result->value());
}

// Pushes `nanos` as USD and as nano-USD: two return values.
int push_amount(lua_State* L, std::int64_t nanos) {
  push_usd(L, nanos);
  lua_pushinteger(L, nanos);
  return 2;
}

int wallet_address(lua_State* L) {
  const PlanHost& host = *context_of(L).host;
  if (host.wallet_address.empty()) {
    raise_error_table(L, make_error(ErrorKind::config, "this runtime has no wallet"));
  }
  lua_pushlstring(L, host.wallet_address.data(), host.wallet_address.size());
  return 1;
}

void set_amount(lua_State* L, const char* usd_key, const char* nanos_key, std::int64_t nanos) {
  push_usd(L, nanos);
  lua_setfield(L, -2, usd_key);
  lua_pushinteger(L, nanos);
  lua_setfield(L, -2, nanos_key);
}

int wallet_balance(lua_State* L) {
  WalletSnapshot snapshot = ask(L, context_of(L).host->wallet_balance);
  lua_createtable(L, 0, 6);
  set_amount(L, "allowance", "allowance_nanos", snapshot.allowance);
  set_amount(L, "usd", "usd_nanos", snapshot.usd);
  set_amount(L, "reserved", "reserved_nanos", snapshot.reserved);
  return 1;
}

int wallet_quote(lua_State* L) {
  PlanContext& context = context_of(L);
  providers::ChatRequest request = read_chat_request(L, context.limits.memory_limit_bytes);
  return push_amount(L, ask(L, context.host->wallet_quote, request));
}

int wallet_spent(lua_State* L) {
  return push_amount(L, ask(L, context_of(L).host->wallet_spent));
}

}  // namespace

void push_usd(lua_State* L, std::int64_t nanos) {
  lua_pushnumber(L, static_cast<lua_Number>(nanos) / 1e9);
}

void push_wallet_module(lua_State* L, PlanContext& context) {
  const std::pair<const char*, lua_CFunction> functions[] = {{"address", wallet_address},
                                                             {"balance", wallet_balance},
                                                             {"quote", wallet_quote},
                                                             {"spent", wallet_spent}};
  lua_createtable(L, 0, 4);
  for (const auto& [name, function] : functions) {
    lua_pushlightuserdata(L, &context);
    lua_pushcclosure(L, function, 1);
    lua_setfield(L, -2, name);
  }
}

}  // namespace perdiem::lua
