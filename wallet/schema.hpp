// wallet.db: connection settings and tables (besides the ledger's own, see ledger.hpp).
//
// Durability: journal_mode=WAL with synchronous=FULL. In WAL mode FULL syncs the WAL on
// every commit, so a committed transaction survives power loss; WAL also lets readers
// (balance, verify, history) run without blocking the writer, and makes a commit one
// sequential append + fsync, which is what group commit amortizes.
// Cross-process atomicity: every write runs in BEGIN IMMEDIATE with a busy timeout.
#pragma once

#include "perdiem/error.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

// 1 and 2 are migrated on open. 3: tab receipts may be stored packed (BLOBs that a
// perdiem reading version 2 would take for corrupt JSON), so version 2 code refuses it.
inline constexpr int kSchemaVersion = 3;

// Sets WAL, synchronous=FULL and foreign_keys on a fresh connection.
[[nodiscard]] Status configure_connection(sql::Db& db);
// Creates every table and index if missing, in one IMMEDIATE transaction, migrates a
// database of an older schema, and refuses one written by a newer schema.
[[nodiscard]] Status create_schema(sql::Db& db);

}  // namespace perdiem::wallet
