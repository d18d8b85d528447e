#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include "wallet/grants.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

TEST_CASE("grant JSON round-trips and its canonical text is stable") {
  auto issuer = key_from(kIssuerKeyHex);
  Grant g;
  g.holder = key_from(kWalletKeyHex).address();
  g.kind = GrantKind::stake;
  g.amount = 2'500'000'000;
  g.providers = {"venice", "openrouter"};
  g.not_before = 1735689600;
  g.expires = 1767225600;
  g.nonce = "fleet-7";
  Grant signed_grant = sign_grant(g, issuer);
  auto parsed = parse_grant(grant_to_json(signed_grant));
  REQUIRE(parsed.ok());
  CHECK(parsed->providers == std::vector<std::string>{"openrouter", "venice"});  // sorted
  CHECK(check_grant_signature(*parsed).ok());
  std::string text = grant_message(*parsed);
  CHECK(text.rfind("perdiem grant v1\nissuer: 0x", 0) == 0);
  CHECK(text.find("\nkind: stake\namount: 2.5\nproviders: openrouter, venice\n"
                  "not_before: 2025-01-01T00:00:00Z\nexpires: 2026-01-01T00:00:00Z\n"
                  "nonce: fleet-7") != std::string::npos);
}

TEST_CASE("parse_grant rejects malformed grants with the field named") {
  WalletFixture f;
  auto good = nlohmann::json::parse(f.grant_json(GrantSpec{}));
  auto with = [&](const char* field, nlohmann::json value) {
    auto j = good;
    if (value.is_null()) j.erase(field);
    else j[field] = value;
    return parse_grant(j.dump());
  };
  CHECK(parse_grant(good.dump()).ok());
  CHECK(with("amount", 2.5).error().message.find("amount") != std::string::npos);  // no doubles
  CHECK(!with("amount", "0").ok());
  CHECK(!with("amount", "-1").ok());
  CHECK(!with("kind", "gift").ok());
  CHECK(!with("providers", nlohmann::json::array()).ok());
  CHECK(!with("providers", {"*", "venice"}).ok());
  CHECK(!with("providers", {"bad provider"}).ok());
  CHECK(!with("nonce", "line\nbreak").ok());
  CHECK(!with("holder", "0x1234").ok());
  CHECK(!with("not_before", -5).ok());
  CHECK(!with("not_before", nullptr).ok());
  CHECK(!with("signature", "0xabc").ok());
  CHECK(!parse_grant("[1,2]").ok());
  CHECK(!parse_grant(std::string(20000, ' ')).ok());
  CHECK(!parse_grant(std::string(100, '[')).ok());
}

TEST_CASE("grants refused with a clear error change nothing") {
  WalletFixture f;
  f.fund_usd("1");
  const Nanos usd_before = f.balance().usd;
  const std::size_t length_before = f.ledger_length();
  auto refused = [&](const std::string& json, ErrorKind kind, const char* words) {
    auto r = f.wallet->accept_grant(json);
    REQUIRE(!r.ok());
    CHECK(r.error().kind == kind);
    CHECK_MESSAGE(r.error().message.find(words) != std::string::npos, r.error().message);
    CHECK(f.balance().usd == usd_before);
    CHECK(f.ledger_length() == length_before);
  };

  SUBCASE("replayed") {
    std::string once = f.grant_json(WalletFixture::spec(GrantKind::usd, "1", {"*"}, "once"));
    REQUIRE(f.wallet->accept_grant(once).ok());
    const Nanos after = f.balance().usd;
    const std::size_t length = f.ledger_length();
    auto again = f.wallet->accept_grant(once);
    REQUIRE(!again.ok());
    CHECK(again.error().message.find("already accepted") != std::string::npos);
    CHECK(f.balance().usd == after);
    CHECK(f.ledger_length() == length);
  }
  SUBCASE("expired") {
    GrantSpec s;
    s.not_before = kDay0Ms / 1000 - 7200;
    s.expires = kDay0Ms / 1000 - 3600;
    refused(f.grant_json(s), ErrorKind::invalid_argument, "expired");
  }
  SUBCASE("not yet valid") {
    GrantSpec s;
    s.not_before = kDay0Ms / 1000 + 86400;
    refused(f.grant_json(s), ErrorKind::invalid_argument, "not valid before");
  }
  SUBCASE("for another holder") {
    Address other = key_from(kStrangerKeyHex).address();
    refused(f.grant_json(GrantSpec{}, nullptr, &other), ErrorKind::invalid_argument, "not this wallet");
  }
  SUBCASE("untrusted issuer") {
    auto stranger = key_from(kStrangerKeyHex);
    refused(f.grant_json(GrantSpec{}, &stranger), ErrorKind::auth, "not a trusted issuer");
  }
  SUBCASE("tampered amount") {
    auto j = nlohmann::json::parse(f.grant_json(WalletFixture::spec(GrantKind::usd, "1")));
    j["amount"] = "1000";
    refused(j.dump(), ErrorKind::auth, "signature");
  }
  SUBCASE("tampered kind") {
    auto j = nlohmann::json::parse(f.grant_json(WalletFixture::spec(GrantKind::usd, "1")));
    j["kind"] = "stake";
    refused(j.dump(), ErrorKind::auth, "signature");
  }
  SUBCASE("malformed") {
    refused("{\"issuer\": 1}", ErrorKind::invalid_argument, "invalid grant");
  }
  f.require_verified();
}
