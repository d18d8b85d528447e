#include "wallet/schema.hpp"

#include "wallet/ledger.hpp"

namespace perdiem::wallet {
namespace {

// tab_receipts.receipt is declared TEXT but holds BLOBs since version 3: a tab's receipt
// packed (stored_receipt.hpp). TEXT affinity stores a BLOB as it is, so the column needs
// no change; rows written before version 3 hold the receipt's JSON, and still read.
const char* kTables = R"sql(
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS grants(
  id INTEGER PRIMARY KEY,
  issuer TEXT NOT NULL,
  nonce TEXT NOT NULL,
  kind TEXT NOT NULL,
  amount INTEGER NOT NULL,
  providers TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0,
  accepted_ms INTEGER NOT NULL,
  document TEXT NOT NULL,
  UNIQUE(issuer, nonce));
CREATE TABLE IF NOT EXISTS reservations(
  id INTEGER PRIMARY KEY,
  key TEXT,
  state TEXT NOT NULL,
  provider TEXT NOT NULL,
  run TEXT NOT NULL,
  agent TEXT NOT NULL,
  agent_day TEXT NOT NULL,
  hold INTEGER NOT NULL,
  cost INTEGER NOT NULL,
  funding TEXT NOT NULL,
  owner TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  receipt TEXT,
  live_key TEXT);
CREATE INDEX IF NOT EXISTS reservations_open ON reservations(owner) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS reservations_run ON reservations(run);
CREATE TABLE IF NOT EXISTS tab_receipts(
  reservation INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  run TEXT NOT NULL,
  cost INTEGER NOT NULL,
  receipt TEXT NOT NULL,
  PRIMARY KEY(reservation, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tab_receipts_run_cost ON tab_receipts(run, reservation, cost);
CREATE TABLE IF NOT EXISTS budget_spend(
  scope TEXT PRIMARY KEY,
  amount INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// A run's receipts by tab with their costs, so wallet.spent(run) reads the index alone
// (one seek per receipt into the table made a 100,000-call run's end take 100 ms). It
// replaces the index on run alone, dropped on every open: a wallet an older perdiem
// opened again has it back.
const char* kRunCostIndex =
    "DROP INDEX IF EXISTS tab_receipts_run; "
    "CREATE INDEX IF NOT EXISTS tab_receipts_run_cost ON tab_receipts(run, reservation, cost)";

// Idempotency: `key` keeps every reservation's key; `live_key` holds it only while the
// reservation is not released, and is what lookups and uniqueness use. The index is on
// live_key alone, so a settlement (which changes state, not live_key) leaves it untouched:
// in version 1 it was partial on state, and every settle rewrote an index page per caller
// (a quarter of the pages a busy commit wrote).
const char* kLiveKeyIndex =
    "CREATE UNIQUE INDEX IF NOT EXISTS reservations_live_key ON reservations(live_key) "
    "WHERE live_key IS NOT NULL";

// Version 1 -> 2: the live_key column and its index replace the index partial on state.
const char* kMigrateFrom1 = R"sql(
ALTER TABLE reservations ADD COLUMN live_key TEXT;
UPDATE reservations SET live_key = key WHERE key IS NOT NULL AND state != 'released';
DROP INDEX IF EXISTS reservations_key;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
)sql";

// Version 2 -> 3: tab receipts written from now on are packed (stored_receipt.hpp); those
// stored as JSON stay as they are and still read. Only the version changes, so that a
// perdiem reading version 2 refuses the file instead of calling its receipts corrupt.
const char* kMigrateFrom2 = "UPDATE meta SET value = '3' WHERE key = 'schema_version';";

}  // namespace

Status configure_connection(sql::Db& db) {
  // journal_mode returns a row; exec discards it. Switching needs a brief exclusive lock;
  // the busy timeout covers a concurrent opener. 16 KiB pages, for a file this creates
  // (an existing file keeps its own; it must precede journal_mode, which writes the
  // header): tab_receipts keeps whole ~700-byte receipts in its interior pages, four
  // times fewer of them at this size, and the checkpointer copies fewer pages per call.
  // agents_bench, 8 alternating pairs: the writer 2.95 -> 2.75 us per call, the
  // checkpointer 0.9 -> 0.5 (medians).
  Status st = db.exec("PRAGMA page_size=16384; PRAGMA journal_mode=WAL");
  if (!st.ok()) return st;
  return db.exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

Status create_schema(sql::Db& db) {
  Status st = db.exec("BEGIN IMMEDIATE");
  if (!st.ok()) return st;
  auto fail = [&](Status s) {
    (void)db.exec("ROLLBACK");
    return s;
  };
  st = db.exec(kTables);
  if (!st.ok()) return fail(st);
  st = create_ledger_schema(db);
  if (!st.ok()) return fail(st);
  auto version = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
  if (!version) return fail(version.error());
  auto row = version->step();
  if (!row) return fail(row.error());
  if (*row) {
    std::string have = version->column_text(0);
    version->reset();
    if (have == "1") {
      st = db.exec(kMigrateFrom1);
      if (!st.ok()) return fail(st);
      have = "2";
    }
    if (have == "2") {
      st = db.exec(kMigrateFrom2);
      if (!st.ok()) return fail(st);
    } else if (have != std::to_string(kSchemaVersion)) {
      // Upgrading helps only a file from a newer perdiem; anything else is damage.
      const bool newer = have.size() < 10 && !have.empty() &&
                         have.find_first_not_of("0123456789") == std::string::npos &&
                         std::stoi(have) > kSchemaVersion;
      return fail(
          make_error(ErrorKind::storage,
                     "wallet.db has schema version " + have + "; this perdiem reads " +
                         std::to_string(kSchemaVersion) + " and older" +
                         (newer ? ": a newer perdiem wrote it; upgrade perdiem to open it"
                                : ", and no perdiem writes that version: the file is damaged")));
    }
  } else {
    version->reset();
    st = db.exec("INSERT INTO meta(key, value) VALUES('schema_version', '" +
                 std::to_string(kSchemaVersion) + "')");
    if (!st.ok()) return fail(st);
  }
  version->reset();
  st = db.exec(kLiveKeyIndex);
  if (!st.ok()) return fail(st);
  st = db.exec(kRunCostIndex);
  if (!st.ok()) return fail(st);
  return db.exec("COMMIT");
}

}  // namespace perdiem::wallet
