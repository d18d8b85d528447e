#include <doctest/doctest.h>

#include "wallet/reservations.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

TEST_CASE("funding encodes, decodes and allocates charges in order") {
  Funding f{{"allow:2025-01-01:1", 5, 0}, {"usd", 3, 0}};
  auto back = decode_funding(encode_funding(f)).value();
  REQUIRE(back.size() == 2);
  CHECK(back[0].account == "allow:2025-01-01:1");
  CHECK(back[1].held == 3);
  auto c = allocate_charge(f, 6);
  CHECK(c[0].charged == 5);
  CHECK(c[1].charged == 1);
  c = allocate_charge(f, 10);  // over the hold: the rest to USD
  CHECK(c[1].charged == 5);
  c = allocate_charge(Funding{{"allow:d:1", 2, 0}}, 3);
  REQUIRE(c.size() == 2);
  CHECK(c[1].account == "usd");
  CHECK(c[1].charged == 1);
  CHECK(!decode_funding("usd=x/1").ok());
}

TEST_CASE("settle charges the cost and releases the rest") {
  WalletFixture f;
  f.fund_usd("10");
  auto r = f.reserve(usd("1"));
  CHECK(r.state == ReservationState::open);
  auto b = f.balance();
  CHECK(b.usd == usd("9"));
  CHECK(b.reserved == usd("1"));
  auto s = f.settle(r.id, usd("0.25"));
  CHECK(s.state == ReservationState::settled);
  CHECK(s.cost == usd("0.25"));
  REQUIRE(s.receipt.has_value());
  CHECK(verify_receipt(*s.receipt).ok());
  CHECK(s.receipt->wallet == f.signer->address());
  b = f.balance();
  CHECK(b.usd == usd("9.75"));
  CHECK(b.reserved == 0);
  f.require_verified();
}

TEST_CASE("insufficient credits says what was needed and what is available") {
  WalletFixture f;
  f.fund_usd("0.5");
  std::size_t before = f.ledger_length();
  auto r = f.wallet->reserve(ReserveRequest{"", "venice", usd("0.75"), {}});
  REQUIRE(!r.ok());
  CHECK(r.error().kind == ErrorKind::insufficient_credits);
  CHECK(r.error().message.find("needed $0.75") != std::string::npos);
  CHECK(r.error().message.find("available $0.50") != std::string::npos);
  CHECK(f.ledger_length() == before);
}

TEST_CASE("budgets: per call, per run, per agent per day") {
  WalletFixture f;
  f.fund_usd("100");
  SUBCASE("per call") {
    Budgets b;
    b.per_call_limit = usd("0.5");
    auto r = f.wallet->reserve(ReserveRequest{"", "venice", usd("0.6"), b});
    REQUIRE(!r.ok());
    CHECK(r.error().kind == ErrorKind::budget_exceeded);
    f.reserve(usd("0.5"), "venice", b);
  }
  SUBCASE("per run counts open holds and settled costs") {
    Budgets b;
    b.run = "run-1";
    b.run_limit = usd("1");
    auto first = f.reserve(usd("0.6"), "venice", b);
    auto second = f.wallet->reserve(ReserveRequest{"", "venice", usd("0.5"), b});
    REQUIRE(!second.ok());
    CHECK(second.error().kind == ErrorKind::budget_exceeded);
    CHECK(second.error().message.find("needed $0.50") != std::string::npos);
    CHECK(second.error().message.find("available $0.40") != std::string::npos);
    f.settle(first.id, usd("0.3"));
    f.reserve(usd("0.5"), "venice", b);  // 0.3 + 0.5 <= 1
    CHECK(f.wallet->spent("run-1").value() == usd("0.8"));
    CHECK(!f.wallet->reserve(ReserveRequest{"", "venice", usd("0.3"), b}).ok());
    Budgets other = b;
    other.run = "run-2";
    f.reserve(usd("0.9"), "venice", other);  // another run has its own budget
  }
  SUBCASE("per agent per UTC day") {
    Budgets b;
    b.agent = "scout";
    b.agent_day_limit = usd("1");
    f.settle(f.reserve(usd("1"), "venice", b).id, usd("1"));
    auto r = f.wallet->reserve(ReserveRequest{"", "venice", usd("0.01"), b});
    REQUIRE(!r.ok());
    CHECK(r.error().kind == ErrorKind::budget_exceeded);
    f.clock.advance_ms(12 * kHourMs);  // next day
    f.reserve(usd("1"), "venice", b);
  }
  f.require_verified();
}

TEST_CASE("a retried call with the same idempotency key is charged once") {
  WalletFixture f;
  f.fund_usd("10");
  auto r1 = f.reserve(usd("1"), "venice", {}, "call-42");
  auto r2 = f.reserve(usd("1"), "venice", {}, "call-42");
  CHECK(r2.id == r1.id);
  CHECK(r2.replayed);
  CHECK(f.balance().usd == usd("9"));
  auto s1 = f.settle(r1.id, usd("0.3"));
  std::size_t length = f.ledger_length();
  auto s2 = f.settle(r1.id, usd("0.3"));
  CHECK(s2.replayed);
  CHECK(s2.cost == usd("0.3"));
  REQUIRE(s2.receipt.has_value());
  CHECK(s2.receipt->signature == s1.receipt->signature);
  auto r3 = f.reserve(usd("1"), "venice", {}, "call-42");  // retry after the settlement
  CHECK(r3.id == r1.id);
  CHECK(r3.state == ReservationState::settled);
  CHECK(f.ledger_length() == length);
  CHECK(f.balance().usd == usd("9.7"));
  f.require_verified();
}

TEST_CASE("a failed call releases everything; the key may then reserve again") {
  WalletFixture f;
  f.fund_usd("10");
  auto r = f.reserve(usd("2"), "venice", {}, "call-7");
  auto released = f.wallet->release(r.id);
  REQUIRE(released.ok());
  CHECK(released->state == ReservationState::released);
  CHECK(f.balance().usd == usd("10"));
  CHECK(f.wallet->release(r.id).value().replayed);  // twice is harmless
  auto late = f.wallet->settle(r.id, 1, CallRecord{});
  REQUIRE(!late.ok());
  CHECK(late.error().kind == ErrorKind::invalid_argument);
  auto again = f.reserve(usd("2"), "venice", {}, "call-7");
  CHECK(again.id != r.id);
  CHECK(!again.replayed);
  CHECK(f.wallet->release(999).error().kind == ErrorKind::not_found);
  f.require_verified();
}

TEST_CASE("a broken stream settles an estimate, then reconciles to the real cost") {
  WalletFixture f;
  f.fund_usd("10");
  auto r = f.reserve(usd("1"));
  auto est = f.wallet->settle_estimate(r.id, usd("0.4"), CallRecord{"m", 2, {}, {}, {}, {}});
  REQUIRE(est.ok());
  CHECK(est->state == ReservationState::unreconciled);
  CHECK(!est->receipt->final);
  CHECK(f.balance().usd == usd("9.6"));
  auto pending = f.wallet->unreconciled().value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == r.id);
  f.require_verified();

  auto fin = f.wallet->reconcile(r.id, usd("0.55"));
  REQUIRE(fin.ok());
  CHECK(fin->state == ReservationState::settled);
  CHECK(fin->receipt->final);
  CHECK(fin->receipt->cost == usd("0.55"));
  CHECK(fin->receipt->model == "m");
  CHECK(verify_receipt(*fin->receipt).ok());
  CHECK(f.balance().usd == usd("9.45"));
  CHECK(f.wallet->unreconciled().value().empty());
  CHECK(f.wallet->reconcile(r.id, usd("0.55")).value().replayed);
  CHECK(!f.wallet->reconcile(r.id, usd("0.6")).ok());
  f.require_verified();
}

TEST_CASE("reconcile can lower a charge and can go past the hold into USD") {
  WalletFixture f;
  f.stake("1");
  f.fund_usd("1");
  auto r = f.reserve(usd("0.5"));
  REQUIRE(f.wallet->settle_estimate(r.id, usd("0.5"), CallRecord{}).ok());
  REQUIRE(f.wallet->reconcile(r.id, usd("0.1")).ok());
  CHECK(f.balance().allowance == usd("0.9"));
  auto r2 = f.reserve(usd("0.2"));
  REQUIRE(f.wallet->settle_estimate(r2.id, usd("0.1"), CallRecord{}).ok());
  REQUIRE(f.wallet->reconcile(r2.id, usd("0.3")).ok());  // 0.2 from its bucket, 0.1 from USD
  auto b = f.balance();
  CHECK(b.allowance == usd("0.7"));
  CHECK(b.usd == usd("0.9"));
  f.require_verified();
}

TEST_CASE("a wallet closed with open reservations settles them at the hold, unreconciled") {
  WalletFixture f;
  f.fund_usd("10");
  auto r = f.reserve(usd("1"));
  f.close();
  f.open();
  auto pending = f.wallet->unreconciled().value();
  REQUIRE(pending.size() == 1);
  CHECK(pending[0].id == r.id);
  CHECK(pending[0].cost == usd("1"));
  CHECK(f.balance().reserved == 0);
  CHECK(f.balance().usd == usd("9"));
  auto fixed = f.wallet->reconcile(r.id, usd("0.2"));
  REQUIRE(fixed.ok());
  CHECK(f.balance().usd == usd("9.8"));
  f.require_verified();
}

TEST_CASE("async reserve and settle share group commits") {
  WalletFixture f;
  f.fund_usd("100");
  std::vector<std::future<Result<Reservation>>> pending;
  for (int i = 0; i < 50; ++i)
    pending.push_back(f.wallet->reserve_async(ReserveRequest{"", "venice", usd("0.1"), {}}));
  std::vector<std::future<Result<Settlement>>> settled;
  for (auto& p : pending) {
    auto r = p.get();
    REQUIRE(r.ok());
    settled.push_back(f.wallet->settle_async(*r, usd("0.05"), CallRecord{}));
  }
  for (auto& s : settled) REQUIRE(s.get().ok());
  CHECK(f.balance().usd == usd("97.5"));
  CHECK(f.wallet->receipts().value().size() == 50);
  f.require_verified();
}

TEST_CASE("a wallet.db belongs to one address") {
  WalletFixture f;
  f.close();
  WalletOptions o;
  o.address = key_from(kStrangerKeyHex).address();
  auto other = Wallet::open(f.db_path, f.clock, o);
  REQUIRE(!other.ok());
  CHECK(other.error().message.find("belongs to") != std::string::npos);
}
