// The writer keeps balances, budgets, stake grants and the chain head across its
// transactions while no other connection writes (PRAGMA data_version). Two Wallets on one
// wallet.db are two connections: each must see the other's writes at once.
#include <doctest/doctest.h>

#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

std::unique_ptr<Wallet> second(WalletFixture& f) {
  auto opened = Wallet::open(f.db_path, f.clock, f.options());
  REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
  return std::move(opened.value());
}

}  // namespace

TEST_CASE("two connections alternating writes keep one chain and one budget") {
  WalletFixture f;
  f.fund_usd("10");
  auto other = second(f);
  Budgets b;
  b.run = "shared";
  b.run_limit = usd("1");
  const Nanos worst = usd("0.15");
  Wallet* wallets[] = {f.wallet.get(), other.get()};
  int reserved = 0;
  for (int i = 0; i < 10; ++i) {
    Wallet& w = *wallets[i % 2];
    auto r = w.reserve(ReserveRequest{"", "venice", worst, b});
    if (!r.ok()) {
      // The other connection's holds count: 6 x 0.15 fit in 1.00, a 7th does not.
      CHECK(r.error().kind == ErrorKind::budget_exceeded);
      CHECK(reserved == 6);
      break;
    }
    ++reserved;
    REQUIRE(w.settle(*r, worst, CallRecord{"m", i, {}, {}, {}, {}}).ok());
  }
  CHECK(reserved == 6);
  CHECK(f.wallet->spent("shared").value() == 6 * worst);
  f.require_verified();  // a stale chain head in either writer would break the chain here
}

TEST_CASE("a grant accepted through another connection pays at once") {
  WalletFixture f;
  auto other = second(f);
  // Warm the first writer's caches with an empty wallet.
  auto refused = f.wallet->reserve(ReserveRequest{"", "venice", usd("1"), {}});
  REQUIRE(!refused.ok());
  CHECK(refused.error().kind == ErrorKind::insufficient_credits);
  REQUIRE(other->accept_grant(f.grant_json(WalletFixture::spec(GrantKind::stake, "2"))).ok());
  auto r = f.reserve(usd("1.5"));
  CHECK(r.from_allowance == usd("1.5"));
  // USD arriving through the other connection is visible too.
  REQUIRE(other->accept_grant(f.grant_json(WalletFixture::spec(GrantKind::usd, "3"))).ok());
  auto more = f.reserve(usd("3.5"));
  CHECK(more.from_allowance == usd("0.5"));
  CHECK(more.from_usd == usd("3"));
  f.require_verified();
}

TEST_CASE("a failed batch drops the writer's caches") {
  WalletFixture f;
  f.fund_usd("1");
  auto r = f.reserve(usd("0.4"));
  f.settle(r.id, usd("0.1"));
  // A refused reservation writes nothing and leaves the cached balance exact.
  auto refused = f.wallet->reserve(ReserveRequest{"", "venice", usd("0.95"), {}});
  REQUIRE(!refused.ok());
  CHECK(refused.error().kind == ErrorKind::insufficient_credits);
  auto fits = f.reserve(usd("0.9"));
  CHECK(fits.from_usd == usd("0.9"));
  f.close();
  f.open();
  f.require_verified();
}

TEST_CASE("a reservation settled through another connection is not settled twice") {
  WalletFixture f;
  f.fund_usd("1");
  auto other = second(f);
  auto r = f.reserve(usd("0.5"));  // the first writer remembers this open row
  REQUIRE(other->settle(r.id, usd("0.2"), CallRecord{"m", 1, {}, {}, {}, {}}).ok());
  auto again = f.wallet->settle(r, usd("0.3"), CallRecord{"m", 1, {}, {}, {}, {}});
  REQUIRE(again.ok());
  CHECK(again->replayed);
  CHECK(again->cost == usd("0.2"));
  CHECK(f.balance().usd == usd("0.8"));
  f.require_verified();
}
