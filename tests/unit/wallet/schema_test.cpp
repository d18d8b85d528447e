// wallet.db schema versions: a version-1 file is migrated on open and keeps its
// idempotency keys' meaning; a version-2 one keeps its receipts stored as JSON. Page sizes: a new
// file has 16 KiB pages, an older one keeps 4.
#include <doctest/doctest.h>

#include <filesystem>

#include "wallet/sqlite.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

void exec(const std::string& path, const char* sql) {
  auto db = sql::Db::open(path, 1000);
  REQUIRE(db.ok());
  Status st = db->exec(sql);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
}

std::string schema_version(const std::string& path) {
  auto db = sql::Db::open(path, 1000);
  REQUIRE(db.ok());
  auto stmt = db->prepare("SELECT value FROM meta WHERE key = 'schema_version'");
  REQUIRE(stmt.ok());
  auto row = stmt->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return stmt->column_text(0);
}

std::int64_t page_size(const std::string& path) {
  auto db = sql::Db::open(path, 1000);
  REQUIRE(db.ok());
  auto stmt = db->prepare("PRAGMA page_size");
  REQUIRE(stmt.ok());
  REQUIRE(stmt->step().value());
  return stmt->column_int(0);
}

}  // namespace

TEST_CASE("a new wallet.db has 16 KiB pages; one made with 4 KiB keeps them and its money") {
  WalletFixture fresh;
  fresh.close();
  CHECK(page_size(fresh.db_path) == 16384);

  WalletFixture f;
  f.close();
  std::filesystem::remove(f.db_path);
  exec(f.db_path, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL");  // as earlier perdiems
  f.open();
  f.fund_usd("10");
  auto held = f.reserve(usd("0.1"), "venice", {}, "k-4k");
  f.settle(held.id, usd("0.05"));
  f.close();
  CHECK(page_size(f.db_path) == 4096);
  f.open();
  f.require_verified();
  CHECK(f.balance().usd == usd("9.95"));
}

TEST_CASE("a version-1 wallet.db is migrated and its keys keep their meaning") {
  WalletFixture f;
  f.fund_usd("10");
  auto released = f.reserve(usd("0.1"), "venice", {}, "k-released");
  REQUIRE(f.wallet->release(released.id).ok());
  auto settled = f.reserve(usd("0.1"), "venice", {}, "k-settled");
  f.settle(settled.id, usd("0.05"));
  f.close();
  // Back to version 1's shape: no live_key column, the key index partial on state.
  exec(f.db_path, R"sql(
    DROP INDEX reservations_live_key;
    ALTER TABLE reservations DROP COLUMN live_key;
    CREATE UNIQUE INDEX reservations_key ON reservations(key)
      WHERE key IS NOT NULL AND state != 'released';
    UPDATE meta SET value = '1' WHERE key = 'schema_version';
  )sql");

  f.open();
  CHECK(schema_version(f.db_path) == "3");
  auto again = f.reserve(usd("0.1"), "venice", {}, "k-released");
  CHECK(!again.replayed);  // a released reservation's key reserves anew
  auto replay = f.reserve(usd("0.1"), "venice", {}, "k-settled");
  CHECK(replay.replayed);
  CHECK(replay.id == settled.id);
  f.require_verified();
}

TEST_CASE("a wallet.db from a newer schema is refused") {
  WalletFixture f;
  f.close();
  exec(f.db_path, "UPDATE meta SET value = '99' WHERE key = 'schema_version'");
  auto opened = Wallet::open(f.db_path, f.clock, f.options());
  REQUIRE(!opened.ok());
  CHECK(opened.error().message.find("schema version 99") != std::string::npos);
  CHECK(opened.error().message.find("upgrade perdiem") != std::string::npos);
}

TEST_CASE("a wallet.db whose schema version no perdiem writes is called damaged") {
  for (const char* version : {"0", "x3", "", "99999999999999"}) {
    CAPTURE(version);
    WalletFixture f;
    f.close();
    exec(f.db_path,
         (std::string("UPDATE meta SET value = '") + version + "' WHERE key = 'schema_version'")
             .c_str());
    auto opened = Wallet::open(f.db_path, f.clock, f.options());
    REQUIRE(!opened.ok());
    CHECK(opened.error().message.find("the file is damaged") != std::string::npos);
    CHECK(opened.error().message.find("upgrade") == std::string::npos);
  }
}

// Version 3 only marks that tab receipts may be packed: a version 2 file opens, keeps its
// receipts as they were stored (JSON) and its new ones are packed.
TEST_CASE("a version-2 wallet.db is migrated to 3 and its stored receipts still read") {
  WalletFixture f;
  f.fund_usd("1");
  ReserveRequest tab_request;
  tab_request.provider = "venice";
  tab_request.worst_case = usd("0.1");
  tab_request.at_least = usd("0.01");
  auto settle_one_call = [&](std::int64_t seq) {
    auto tab = f.wallet->reserve(tab_request);
    REQUIRE(tab.ok());
    TabCall call;
    call.seq = seq;
    call.cost = usd("0.002");
    call.time_ms = kDay0Ms;
    call.record.model = "llama";
    call.record.run = "r";
    REQUIRE(f.wallet->settle_tab_async(*tab, {call}).get().ok());
  };
  settle_one_call(0);
  const std::vector<Receipt> before = f.wallet->receipts("r").value();
  REQUIRE(before.size() == 1);
  f.close();
  // Back to version 2: its receipt as version 2 stored it, JSON.
  {
    auto db = sql::Db::open(f.db_path, 1000);
    REQUIRE(db.ok());
    auto update = db->prepare("UPDATE tab_receipts SET receipt = ?");
    REQUIRE(update.ok());
    update->bind(1, receipt_to_json(before[0]));
    REQUIRE(update->run().ok());
    REQUIRE(db->exec("UPDATE meta SET value = '2' WHERE key = 'schema_version'").ok());
  }
  f.open();
  CHECK(schema_version(f.db_path) == "3");
  settle_one_call(0);
  const std::vector<Receipt> after = f.wallet->receipts("r").value();
  REQUIRE(after.size() == 2);
  CHECK(receipt_to_json(after[0]) == receipt_to_json(before[0]));
  f.require_verified();
}
