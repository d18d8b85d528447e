#include <doctest/doctest.h>

#include "wallet/credits.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

TEST_CASE("a stake grants its amount per UTC day") {
  WalletFixture f;
  f.stake("2.5");
  auto b = f.balance();
  CHECK(b.day == "2025-01-01");
  CHECK(b.allowance == usd("2.5"));
  CHECK(b.staked == usd("2.5"));
  CHECK(b.usd == 0);
  auto r = f.reserve(usd("2"));
  CHECK(r.from_allowance == usd("2"));
  CHECK(r.from_usd == 0);
  f.settle(r.id, usd("2"));
  CHECK(f.balance().allowance == usd("0.5"));
  f.require_verified();
}

TEST_CASE("spending across 00:00 UTC draws on the new day; yesterday's leftover is gone") {
  WalletFixture f;
  f.stake("1");
  f.settle(f.reserve(usd("0.7")).id, usd("0.7"));
  f.clock.set_unix_ms(kDay0Ms + 24 * kHourMs - 1);  // 23:59:59.999
  CHECK(f.balance().allowance == usd("0.3"));
  auto late = f.reserve(usd("0.2"));  // yesterday's allowance
  f.clock.advance_ms(2);              // 00:00:00.001 the next day
  auto b = f.balance();
  CHECK(b.day == "2025-01-02");
  CHECK(b.allowance == usd("1"));  // renewed, and the 0.1 leftover did not carry over
  f.settle(late.id, usd("0.2"));   // settled after midnight: charged to the day it reserved
  CHECK(f.balance().allowance == usd("1"));
  auto r = f.reserve(usd("1"));
  CHECK(r.from_allowance == usd("1"));
  auto more = f.wallet->reserve(ReserveRequest{"", "venice", 1, {}});
  REQUIRE(!more.ok());
  CHECK(more.error().kind == ErrorKind::insufficient_credits);
  REQUIRE(f.wallet->release(r.id).ok());
  f.require_verified();
}

TEST_CASE("no allowance until the total stake reaches the minimum of 0.1") {
  WalletFixture f;
  f.stake("0.05");
  auto b = f.balance();
  CHECK(b.allowance == 0);
  CHECK(b.below_min_stake);
  auto r = f.wallet->reserve(ReserveRequest{"", "venice", usd("0.01"), {}});
  REQUIRE(!r.ok());
  CHECK(r.error().kind == ErrorKind::insufficient_credits);
  f.stake("0.05");  // total 0.1: both buckets open at once, mid-day
  b = f.balance();
  CHECK(!b.below_min_stake);
  CHECK(b.allowance == usd("0.1"));
  CHECK(f.reserve(usd("0.1")).from_allowance == usd("0.1"));
  f.require_verified();
}

TEST_CASE("spending order: today's allowance, then USD") {
  WalletFixture f;
  f.stake("1");
  f.fund_usd("5");
  auto r = f.reserve(usd("1.5"));
  CHECK(r.from_allowance == usd("1"));
  CHECK(r.from_usd == usd("0.5"));
  f.settle(r.id, usd("1.2"));  // charged to the allowance first
  auto b = f.balance();
  CHECK(b.allowance == 0);
  CHECK(b.usd == usd("4.8"));
  f.require_verified();
}

TEST_CASE("scoped credits pay only for their providers, narrowest scope first") {
  WalletFixture f;
  f.stake("1", {"venice"});
  auto c = f.wallet->coverage("venice", usd("0.5")).value();
  CHECK(c.covered_by_allowance);
  c = f.wallet->coverage("openrouter", usd("0.5")).value();
  CHECK(!c.covered_by_allowance);
  CHECK(!c.affordable);
  auto refused = f.wallet->reserve(ReserveRequest{"", "openrouter", usd("0.5"), {}});
  REQUIRE(!refused.ok());
  CHECK(refused.error().kind == ErrorKind::insufficient_credits);
  CHECK(refused.error().message.find("needed $0.50") != std::string::npos);

  f.stake("1");  // pays anywhere
  auto r = f.reserve(usd("1"), "venice");  // should use the venice-only bucket
  CHECK(r.from_allowance == usd("1"));
  auto b = f.balance();
  CHECK(b.allowance_for("openrouter") == usd("1"));
  CHECK(b.allowance_for("venice") == usd("1"));
  f.settle(r.id, usd("1"));
  f.require_verified();
}

TEST_CASE("spending_order ranks named providers before \"*\", then oldest") {
  std::vector<StakeGrant> buckets{{1, 1, {"*"}, 0, 0, false},
                                  {2, 1, {"venice"}, 0, 0, false},
                                  {3, 1, {"groq"}, 0, 0, false},
                                  {4, 1, {"groq", "venice"}, 0, 0, false}};
  CHECK(spending_order(buckets, "venice") == std::vector<std::size_t>{1, 3, 0});
  CHECK(spending_order(buckets, "other") == std::vector<std::size_t>{0});
}

TEST_CASE("a revoked stake pays out today's bucket, then nothing") {
  WalletFixture f;
  f.stake("1");
  Revocation rev;
  rev.holder = f.signer->address();
  rev.nonce = "n1";
  REQUIRE(f.wallet->revoke(revocation_to_json(sign_revocation(rev, f.issuer))).ok());
  CHECK(f.balance().allowance == usd("1"));  // today's bucket stays
  f.clock.advance_ms(24 * kHourMs);
  CHECK(f.balance().allowance == 0);
  CHECK(f.balance().staked == 0);
  // A revocation signed by someone else changes nothing.
  auto stranger = key_from(kStrangerKeyHex);
  auto bad = f.wallet->revoke(revocation_to_json(sign_revocation(rev, stranger)));
  CHECK(!bad.ok());
  f.require_verified();
}

TEST_CASE("a stake that expires stops at the next day") {
  WalletFixture f;
  f.accept(GrantSpec{GrantKind::stake, "1", {"*"}, "", kDay0Ms / 1000 - 10,
                     kDay0Ms / 1000 + 13 * 3600});
  CHECK(f.balance().allowance == usd("1"));
  f.clock.advance_ms(2 * kHourMs);  // 14:00: expired, but today's bucket was opened
  f.reserve(usd("0.5"));
  f.clock.advance_ms(12 * kHourMs);
  CHECK(f.balance().allowance == 0);
  f.require_verified();
}
