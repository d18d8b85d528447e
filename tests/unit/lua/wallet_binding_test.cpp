// wallet.* and the cost on model.chat's result, as a plan sees them.
#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::Result;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanOutcome;
using perdiem::lua::WalletSnapshot;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;

namespace {

struct WalletHost {
  std::int64_t spent = 0;
  ChatRequest quoted;

  PlanHost host() {
    PlanHost h;
    h.chat = [this](const ChatRequest&) {
      ChatResponse r;
      r.content = "ok";
      r.provider = "venice";
      r.cost_nanos = 1'500'000;  // $0.0015
      r.receipt_id = "42";
      spent += r.cost_nanos;
      return Result<ChatResponse>(r);
    };
    h.wallet_address = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
    h.wallet_balance = [] { return Result<WalletSnapshot>(WalletSnapshot{2'000'000'000, 5, 7}); };
    h.wallet_quote = [this](const ChatRequest& r) {
      quoted = r;
      return Result<std::int64_t>(std::int64_t{123'456});
    };
    h.wallet_spent = [this] { return Result<std::int64_t>(spent); };
    return h;
  }

  nlohmann::json run(const std::string& source) {
    PlanHost h = host();
    PlanOutcome outcome = perdiem::lua::run_plan(source, "w.lua", {}, {}, h);
    REQUIRE_MESSAGE(!outcome.error, (outcome.error ? outcome.error->describe() : ""));
    return nlohmann::json::parse(outcome.json);
  }
};

}  // namespace

TEST_CASE("model.chat results carry the cost and the receipt") {
  WalletHost w;
  auto j = w.run(R"(
    local r = model.chat{messages={{role='user', content='hi'}}}
    return {cost = r.cost, nanos = r.cost_nanos, receipt = r.receipt})");
  CHECK(j["cost"].get<double>() == doctest::Approx(0.0015));
  CHECK(j["nanos"] == 1'500'000);
  CHECK(j["receipt"] == "42");
}

TEST_CASE("wallet.address, balance, quote and spent reach the host") {
  WalletHost w;
  auto j = w.run(R"(
    local before_usd, before = wallet.spent()
    model.chat{messages={{role='user', content='hi'}}}
    local after_usd, after = wallet.spent()
    local b = wallet.balance()
    local q_usd, q = wallet.quote{model='m', messages={{role='user', content='price me'}},
                                  max_tokens=50}
    return {address = wallet.address(), before = before, after = after, after_usd = after_usd,
            allowance = b.allowance, allowance_nanos = b.allowance_nanos, usd_nanos = b.usd_nanos,
            reserved_nanos = b.reserved_nanos, quote = q, quote_usd = q_usd})");
  CHECK(j["address"] == "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
  CHECK(j["before"] == 0);
  CHECK(j["after"] == 1'500'000);
  CHECK(j["after_usd"].get<double>() == doctest::Approx(0.0015));
  CHECK(j["allowance"].get<double>() == doctest::Approx(2.0));
  CHECK(j["allowance_nanos"] == 2'000'000'000);
  CHECK(j["usd_nanos"] == 5);
  CHECK(j["reserved_nanos"] == 7);
  CHECK(j["quote"] == 123'456);
  CHECK(w.quoted.model == "m");
  REQUIRE(w.quoted.max_tokens.has_value());
  CHECK(*w.quoted.max_tokens == 50);
  CHECK(w.quoted.messages.at(0).content == "price me");
}

TEST_CASE("wallet errors are catchable error tables") {
  WalletHost w;
  PlanHost h = w.host();
  h.wallet_balance = [] {
    return Result<WalletSnapshot>(perdiem::make_error(ErrorKind::storage, "wallet.db is locked"));
  };
  PlanOutcome outcome = perdiem::lua::run_plan(R"(
    local ok, err = pcall(wallet.balance)
    return {ok = ok, kind = err.kind, message = err.message})", "w.lua", {}, {}, h);
  REQUIRE_FALSE(outcome.error);
  auto j = nlohmann::json::parse(outcome.json);
  CHECK(j["ok"] == false);
  CHECK(j["kind"] == "storage");
  CHECK(j["message"] == "wallet.db is locked");
}

TEST_CASE("without a wallet, wallet functions raise a config error") {
  PlanHost h;
  PlanOutcome outcome = perdiem::lua::run_plan("return wallet.address()", "w.lua", {}, {}, h);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::config);
  CHECK(outcome.error->message.find("no wallet") != std::string::npos);
}
