// Shared helpers for the wallet tests: a temporary directory, fixed keys, a ManualClock
// at noon UTC on 2025-01-01, and signed grants.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "base/clock.hpp"
#include "wallet/grants.hpp"
#include "wallet/keys.hpp"
#include "wallet/money.hpp"
#include "wallet/sqlite.hpp"
#include "wallet/stored_receipt.hpp"
#include "wallet/wallet.hpp"

namespace perdiem::wallet::testing {

inline constexpr std::int64_t kDay0Ms = 1735689600000;  // 2025-01-01T00:00:00Z
inline constexpr std::int64_t kHourMs = 3600 * 1000;

inline Nanos usd(const char* text) { return parse_usd(text).value(); }

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/perdiem-wallet-test-XXXXXX";
    char* made = ::mkdtemp(tmpl);
    REQUIRE(made != nullptr);
    path = made;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

inline PrivateKey key_from(const char* hex) { return PrivateKey::from_hex(hex).value(); }
// Fixed test keys (never use outside tests).
inline const char* kWalletKeyHex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
inline const char* kIssuerKeyHex = "8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f";
inline const char* kStrangerKeyHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

struct GrantSpec {
  GrantKind kind = GrantKind::usd;
  const char* amount = "10";
  std::vector<std::string> providers{"*"};
  std::string nonce;
  std::int64_t not_before = kDay0Ms / 1000 - 86400;
  std::int64_t expires = 0;
};

struct WalletFixture {
  WalletFixture() : clock(kDay0Ms + 12 * kHourMs) {
    db_path = dir.path + "/wallet.db";
    open();
  }

  WalletOptions options() const {
    WalletOptions o;
    o.signer = signer;
    o.trusted_issuers = {issuer.address()};
    return o;
  }
  void open() {
    wallet.reset();
    auto opened = Wallet::open(db_path, clock, options());
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    wallet = std::move(opened.value());
  }
  void close() { wallet.reset(); }

  std::string grant_json(const GrantSpec& spec, const PrivateKey* by = nullptr,
                         const Address* holder = nullptr) {
    Grant g;
    g.holder = holder ? *holder : signer->address();
    g.kind = spec.kind;
    g.amount = usd(spec.amount);
    g.providers = spec.providers;
    g.nonce = spec.nonce.empty() ? "n" + std::to_string(++nonce_counter) : spec.nonce;
    g.not_before = spec.not_before;
    g.expires = spec.expires;
    return grant_to_json(sign_grant(g, by ? *by : issuer));
  }
  std::int64_t accept(const GrantSpec& spec) {
    auto id = wallet->accept_grant(grant_json(spec));
    REQUIRE_MESSAGE(id.ok(), (id.ok() ? "" : id.error().message));
    return id.value();
  }
  void fund_usd(const char* amount) { accept(spec(GrantKind::usd, amount)); }
  std::int64_t stake(const char* amount, std::vector<std::string> providers = {"*"}) {
    return accept(spec(GrantKind::stake, amount, std::move(providers)));
  }
  static GrantSpec spec(GrantKind kind, const char* amount,
                        std::vector<std::string> providers = {"*"}, std::string nonce = {}) {
    GrantSpec s;
    s.kind = kind;
    s.amount = amount;
    s.providers = std::move(providers);
    s.nonce = std::move(nonce);
    return s;
  }

  Reservation reserve(Nanos worst, std::string provider = "venice", Budgets budgets = {},
                      std::string key = {}) {
    auto r = wallet->reserve(ReserveRequest{std::move(key), std::move(provider), worst, budgets});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r.value();
  }
  Settlement settle(std::int64_t id, Nanos cost) {
    auto s = wallet->settle(id, cost, CallRecord{"test-model", 1, {}, {}, {}, {}});
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return s.value();
  }
  Balance balance() { return wallet->balance().value(); }
  std::size_t ledger_length() { return wallet->history(0, 1'000'000).value().size(); }
  void require_verified() {
    auto report = wallet->verify();
    REQUIRE(report.ok());
    CHECK_MESSAGE(report->ok, report->problem);
  }

  TempDir dir;
  std::string db_path;
  base::ManualClock clock;
  std::shared_ptr<const PrivateKey> signer =
      std::make_shared<const PrivateKey>(key_from(kWalletKeyHex));
  PrivateKey issuer = key_from(kIssuerKeyHex);
  std::unique_ptr<Wallet> wallet;
  int nonce_counter = 0;
};

// An unsigned receipt of a priced call, numbered `i` (its id "<tab>.<i>", run "run-<i>",
// hashes and counts that differ with i), for tests that batch and store receipts.
inline Receipt sample_receipt(int i, const std::string& tab = "7") {
  Receipt r;
  r.id = tab + "." + std::to_string(i);
  r.run = "run-" + std::to_string(i);
  r.step = i + 1;
  r.provider = "venice";
  r.model = "meta-llama/llama-3.3-70b-instruct";
  r.usage = Usage{1200 + i, 300, 200};
  r.prices = Price{700'000'000, 2'800'000'000, 350'000'000, 1000};
  r.cost = cost_of(r.prices, r.usage).value();
  r.time_ms = kDay0Ms + i;
  r.request_hash = keccak256("request " + std::to_string(i));
  r.response_hash = keccak256("response " + std::to_string(i));
  return r;
}

// Writes `receipt` over the stored tab receipt of the same id ("<tab>.<seq>") in the
// wallet.db at `db_path` (closed by its wallet), as the wallet stores it: packed when it
// can be, else as JSON. How the tests play someone editing the file; the rows changed.
inline int overwrite_tab_receipt(const std::string& db_path, const Receipt& receipt) {
  const std::size_t dot = receipt.id.find('.');
  REQUIRE(dot != std::string::npos);
  auto db = sql::Db::open(db_path, 1000);
  REQUIRE(db.ok());
  auto update =
      db->prepare("UPDATE tab_receipts SET receipt = ? WHERE reservation = ? AND seq = ?");
  REQUIRE(update.ok());
  const std::string stored = packable(receipt) ? pack_receipt(receipt) : receipt_to_json(receipt);
  if (packable(receipt))
    update->bind_blob_borrowed(1, stored);
  else
    update->bind(1, stored);
  update->bind(2, std::stoll(receipt.id.substr(0, dot)))
      .bind(3, std::stoll(receipt.id.substr(dot + 1)));
  REQUIRE(update->run().ok());
  return db->changes();
}

}  // namespace perdiem::wallet::testing
