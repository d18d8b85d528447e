// The append-only, hash-chained ledger. Every change to a balance is one entry:
//   {seq, time, kind, account, amount, reservation, refs, prev_hash, hash}
// `amount` is the signed change (nano-USD, or nano-credits for stake accounts) to
// `account`'s balance; balances are the per-account sums of the ledger, cached in the
// `balances` table and re-derived by verify_ledger().
//
// Hash: BLAKE2b-256 (libsodium crypto_generichash) of a length-prefixed binary
// serialization of every field plus prev_hash (see entry_hash()). BLAKE2b rather than
// Keccak-256 because the chain is internal integrity, never checked by EVM tooling, and
// it is several times faster, which matters on the group-commit path. The first entry's
// prev_hash is 32 zero bytes.
//
// Accounts: "usd"; "spent" (cumulative charges); "stake:<grant id>" (nano-credits);
// "allow:<YYYY-MM-DD>:<grant id>" (one UTC day's allowance from one stake grant).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/keys.hpp"
#include "wallet/money.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

struct LedgerEntry {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;
  std::string kind;     // grant_usd, stake, revoke, allowance, reserve, settle, release,
                        // reconcile, recover
  std::string account;  // see above
  Nanos amount = 0;
  std::int64_t reservation = 0;  // the reservation this entry belongs to, 0 if none
  std::string refs;              // a JSON object with references (grant, key, run, ...)
  Hash32 prev_hash{};
  Hash32 hash{};
};

// The chain hash of `entry` (all fields but `hash` itself).
Hash32 entry_hash(const LedgerEntry& entry);

// Creates the ledger and balances tables and the triggers that refuse UPDATE/DELETE on
// the ledger. Idempotent.
[[nodiscard]] Status create_ledger_schema(sql::Db& db);

// Appends entries within the caller's write transaction (BEGIN IMMEDIATE) and keeps
// balances. Holds cached statements for one connection; one thread at a time.
// Usage per transaction: begin() ... append()/balance() ... flush() before COMMIT.
// After a ROLLBACK call discard().
// The chain head and the balances it has read stay cached after a COMMIT, for the next
// transaction; the caller passes keep_cache = false unless it knows that no other
// connection has written since (PRAGMA data_version unchanged).
class LedgerWriter {
 public:
  static Result<LedgerWriter> create(sql::Db& db);

  // Call right after BEGIN IMMEDIATE. Reads the chain head unless `keep_cache` and a
  // head from an earlier transaction of this connection is still held.
  [[nodiscard]] Status begin(bool keep_cache = false);
  // The balance of `account` as of the entries appended so far in this transaction.
  Result<Nanos> balance(const std::string& account);
  // True when `account` has ever had an entry.
  Result<bool> exists(const std::string& account);
  // Appends one entry at `time_ms`; returns its seq.
  Result<std::int64_t> append(std::string_view kind, const std::string& account, Nanos amount,
                              std::int64_t reservation, std::string refs, std::int64_t time_ms);
  // Writes changed balances. Call before COMMIT.
  [[nodiscard]] Status flush();
  void discard();

 private:
  LedgerWriter() = default;
  sql::Stmt head_, insert_, get_balance_, put_balance_;
  bool head_known_ = false;
  std::int64_t seq_ = 0;
  Hash32 head_hash_{};
  std::map<std::string, std::optional<Nanos>, std::less<>> balances_;  // nullopt: no row yet
  std::map<std::string, Nanos, std::less<>> dirty_;
};

struct VerifyReport {
  bool ok = true;
  std::int64_t entries = 0;
  std::int64_t first_bad_seq = 0;  // 0 when the problem is not one entry's
  std::string problem;             // what is wrong, for a person
};

// Recomputes the chain from the first entry and the balance of every account, and
// compares them with what is stored. Reads in one transaction on `db`. Reports the first
// inconsistency (storage errors are returned as errors, not as a report).
Result<VerifyReport> verify_ledger(sql::Db& db);

// Reads entries in seq order, from `after_seq` exclusive, at most `limit`.
Result<std::vector<LedgerEntry>> read_ledger(sql::Db& db, std::int64_t after_seq,
                                             std::int64_t limit);

// Builds the small JSON objects stored in `refs`, without a JSON library on the hot path.
class RefsBuilder {
 public:
  RefsBuilder& add(std::string_view key, std::string_view value);
  RefsBuilder& add(std::string_view key, std::int64_t value);
  std::string str() const { return out_.empty() ? "{}" : out_ + "}"; }

 private:
  void key(std::string_view name);
  std::string out_;
};

// `text` as a JSON string literal (with quotes): the canonical form that ledger hashes and
// receipt documents are made of, so it must not change.
std::string json_quote(std::string_view text);
// The same, appended to `out`.
void append_json_quoted(std::string& out, std::string_view text);

}  // namespace perdiem::wallet
