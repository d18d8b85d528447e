#include <sqlite3.h>

#include <doctest/doctest.h>

#include "wallet/ledger.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

// Raw SQL against wallet.db, as an attacker (or a bug) with file access would do.
int raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return rc;
}

void make_history(WalletFixture& f) {
  f.fund_usd("10");
  f.stake("1");
  auto a = f.reserve(usd("0.5"));
  f.settle(a.id, usd("0.2"));
  auto b = f.reserve(usd("1"));
  REQUIRE(f.wallet->release(b.id).ok());
}

}  // namespace

// The canonical string form that ledger hashes and receipts are made of: a change here
// would break every stored hash, so each escape is pinned.
TEST_CASE("json_quote: plain runs kept whole, each escape as the canonical form has it") {
  CHECK(json_quote("") == "\"\"");
  CHECK(json_quote("run-1.tab:42") == "\"run-1.tab:42\"");
  CHECK(json_quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_quote("\n\r\t") == "\"\\n\\r\\t\"");
  // Other control characters as \u00XX (\b and \f too); DEL and UTF-8 bytes as they are.
  CHECK(json_quote(std::string("x\x01\by\fz\x1f", 7)) == "\"x\\u0001\\u0008y\\u000cz\\u001f\"");
  CHECK(json_quote("\x7f\xc3\xa9") == "\"\x7f\xc3\xa9\"");
  CHECK(json_quote(std::string("a\0b", 3)) == "\"a\\u0000b\"");
  // Specials past the first eight bytes, and between long plain runs.
  const std::string a(20, 'a'), b(11, 'b');
  CHECK(json_quote(a + "\"" + b + "\x01" + a) == "\"" + a + "\\\"" + b + "\\u0001" + a + "\"");
  std::string appended = "{";
  append_json_quoted(appended, "k\"");
  CHECK(appended == "{\"k\\\"\"");
}

TEST_CASE("entry hash covers every field and the previous hash") {
  LedgerEntry e{1, 2, "settle", "usd", -5, 7, R"({"run":"r"})", {}, {}};
  Hash32 h = entry_hash(e);
  auto changed = [&](auto mutate) {
    LedgerEntry copy = e;
    mutate(copy);
    return entry_hash(copy) != h;
  };
  CHECK(changed([](LedgerEntry& x) { x.seq = 2; }));
  CHECK(changed([](LedgerEntry& x) { x.time_ms = 3; }));
  CHECK(changed([](LedgerEntry& x) { x.kind = "release"; }));
  CHECK(changed([](LedgerEntry& x) { x.account = "spent"; }));
  CHECK(changed([](LedgerEntry& x) { x.amount = -4; }));
  CHECK(changed([](LedgerEntry& x) { x.reservation = 8; }));
  CHECK(changed([](LedgerEntry& x) { x.refs = "{}"; }));
  CHECK(changed([](LedgerEntry& x) { x.prev_hash[0] = 1; }));
  // Length prefixes: moving a byte between adjacent strings changes the hash.
  CHECK(changed([](LedgerEntry& x) {
    x.kind = "settl";
    x.account = "eusd";
  }));
}

TEST_CASE("a fresh and a busy ledger verify, and balances derive from entries") {
  WalletFixture f;
  f.require_verified();
  make_history(f);
  f.require_verified();
  auto entries = f.wallet->history().value();
  REQUIRE(!entries.empty());
  CHECK(entries.front().seq == 1);
  CHECK(entries.front().prev_hash == Hash32{});
  for (std::size_t i = 1; i < entries.size(); ++i)
    CHECK(entries[i].prev_hash == entries[i - 1].hash);
  Nanos usd_sum = 0;
  for (const auto& e : entries)
    if (e.account == "usd") usd_sum += e.amount;
  CHECK(usd_sum == f.balance().usd);
}

TEST_CASE("the ledger refuses UPDATE and DELETE") {
  WalletFixture f;
  make_history(f);
  CHECK(raw_exec(f.db_path, "UPDATE ledger SET amount = amount + 1 WHERE seq = 2") != SQLITE_OK);
  CHECK(raw_exec(f.db_path, "DELETE FROM ledger WHERE seq = 2") != SQLITE_OK);
  f.require_verified();
}

TEST_CASE("verify names a tampered ledger row") {
  WalletFixture f;
  make_history(f);
  REQUIRE(raw_exec(f.db_path, "DROP TRIGGER ledger_no_update; "
                              "UPDATE ledger SET amount = amount + 1000 WHERE seq = 3") == SQLITE_OK);
  auto report = f.wallet->verify();
  REQUIRE(report.ok());
  CHECK(!report->ok);
  CHECK(report->first_bad_seq == 3);
  CHECK(report->problem.find("entry 3") != std::string::npos);
}

TEST_CASE("verify finds a row whose hash was recomputed: the next link breaks") {
  WalletFixture f;
  make_history(f);
  auto entries = f.wallet->history().value();
  LedgerEntry forged = entries[1];
  forged.amount += 1;
  forged.hash = entry_hash(forged);
  sqlite3* db = nullptr;
  sqlite3_open(f.db_path.c_str(), &db);
  sqlite3_exec(db, "DROP TRIGGER ledger_no_update", nullptr, nullptr, nullptr);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "UPDATE ledger SET amount = ?, hash = ? WHERE seq = ?", -1, &stmt, nullptr);
  sqlite3_bind_int64(stmt, 1, forged.amount);
  sqlite3_bind_blob(stmt, 2, forged.hash.data(), 32, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 3, forged.seq);
  CHECK(sqlite3_step(stmt) == SQLITE_DONE);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  auto report = f.wallet->verify().value();
  CHECK(!report.ok);
  CHECK(report.first_bad_seq == forged.seq + 1);
}

TEST_CASE("verify finds a deleted row and a doctored balance") {
  WalletFixture f;
  make_history(f);
  SUBCASE("deleted") {
    REQUIRE(raw_exec(f.db_path, "DROP TRIGGER ledger_no_delete; DELETE FROM ledger WHERE seq = 2") == SQLITE_OK);
    auto report = f.wallet->verify().value();
    CHECK(!report.ok);
    CHECK(report.first_bad_seq == 2);
    CHECK(report.problem.find("missing") != std::string::npos);
  }
  SUBCASE("balance") {
    REQUIRE(raw_exec(f.db_path, "UPDATE balances SET amount = amount + 1 WHERE account = 'usd'") == SQLITE_OK);
    auto report = f.wallet->verify().value();
    CHECK(!report.ok);
    CHECK(report.problem.find("usd") != std::string::npos);
  }
  SUBCASE("reservation") {
    REQUIRE(raw_exec(f.db_path, "UPDATE reservations SET cost = cost - 1 WHERE state = 'settled'") == SQLITE_OK);
    auto report = f.wallet->verify().value();
    CHECK(!report.ok);
    CHECK(report.problem.find("reservation") != std::string::npos);
  }
}
