// The Book: every write to wallet.db, applied inside one IMMEDIATE transaction that the
// group-commit writer opens for a batch of operations (see group_commit.hpp).
//
// Contract: begin() ... any number of operations ... commit() (or rollback()). Each
// operation either fails before writing anything (a business error: credits, budgets,
// state) or writes all it has to; if it fails after writing (a storage error), the batch
// must be rolled back: writes() tells the caller whether an operation wrote.
// Caches (balances, budgets, stake grants, the chain head, the rows of reservations this
// writer opened and has not yet settled) outlive a transaction only
// while no other connection has written: begin() compares PRAGMA data_version, which
// changes exactly when another connection (another process, or another Wallet on the same
// file) commits, and drops them otherwise. A rollback drops them too.
// Thread-safety: one thread (the writer) owns a Book.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/credits.hpp"
#include "wallet/grants.hpp"
#include "wallet/checkpointer.hpp"
#include "wallet/ledger.hpp"
#include "wallet/reservations.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

class Book {
 public:
  struct Options {
    Nanos min_stake = kDefaultMinStake;
    std::string owner;  // this process's session id, stamped on open reservations
    // Without a checkpointer, a commit that leaves the WAL at least this long (in pages)
    // checkpoints it, as SQLite's own wal_autocheckpoint (same default) would; 0 never.
    int checkpoint_pages = 1000;
    // When set (it must outlive the Book), commits hand checkpoints to it instead.
    Checkpointer* checkpointer = nullptr;
  };
  static Result<std::unique_ptr<Book>> create(sql::Db db, Options options);
  Book(const Book&) = delete;
  Book& operator=(const Book&) = delete;
  ~Book();

  // What this connection's commits did to the WAL, for the benchmark.
  struct WalStats {
    std::uint64_t frames = 0;       // pages appended to the WAL by commits
    std::uint64_t checkpoints = 0;  // run (or finished) by the writer inside a COMMIT
    std::int64_t checkpoint_us = 0;
  };
  const WalStats& wal_stats() const { return wal_; }

  [[nodiscard]] Status begin(std::int64_t now_ms);
  [[nodiscard]] Status commit();
  void rollback();
  // Counts writes; an operation that failed after the count moved broke the batch.
  std::uint64_t writes() const { return writes_; }
  std::int64_t now_ms() const { return now_ms_; }

  Result<Reservation> reserve(const ReserveRequest& request);
  // A receipt signed by the caller, with its JSON form (made off the writer thread).
  struct SignedReceipt {
    Receipt receipt;
    std::string json;
  };
  // `receipt` (cost == `cost`, same provider and run as the reservation) is stored with
  // the settlement.
  Result<Settlement> settle(std::int64_t id, Nanos cost, bool final,
                            const std::optional<SignedReceipt>& receipt);
  // Settles a tab (a reservation held for many calls) at the sum of its calls' costs and
  // stores their receipts, signed as one batch: final when every call's is. Each receipt's
  // id is "<id>.<seq>", its run and provider the reservation's.
  struct TabReceipt {
    std::int64_t seq = 0;
    Receipt receipt;
    // pack_receipt's bytes, stored as a BLOB (stored_receipt.hpp). Made off the writer
    // thread.
    std::string packed;
  };
  Result<Settlement> settle_tab(std::int64_t id, Nanos cost, bool final,
                                const std::vector<TabReceipt>& receipts);
  Result<Reservation> release(std::int64_t id);
  Result<Settlement> reconcile(std::int64_t id, Nanos cost,
                               const std::optional<SignedReceipt>& receipt);
  // Settles every open reservation of a dead `owner` at its hold, as unreconciled.
  Result<std::int64_t> recover_owner(const std::string& owner);

  // Records a grant whose signature, issuer, holder and validity the caller checked;
  // refuses a replay (same issuer and nonce). Returns the grant id.
  Result<std::int64_t> accept_grant(const Grant& grant, const std::string& document);
  [[nodiscard]] Status revoke(const Revocation& revocation);

 private:
  struct Row {
    std::int64_t id = 0;
    ReservationState state = ReservationState::open;
    std::string provider, run, agent, agent_day, owner;
    Nanos hold = 0, cost = 0;
    Funding funding;
  };

  Book(sql::Db db, Options options) : db_(std::move(db)), options_(std::move(options)) {}
  // sqlite3_wal_hook callback: counts frames and checkpoints (replaces wal_autocheckpoint,
  // which is itself a WAL hook, so that checkpoints can be timed).
  static int on_wal_commit(void* book, sqlite3* db, const char* schema, int wal_pages);
  [[nodiscard]] Status prepare_all();
  // Drops every cache that outlives a transaction.
  void forget();
  [[nodiscard]] Status open_allowance();
  Result<std::optional<Row>> load_row(std::int64_t id);
  Result<Nanos> budget(const std::string& scope);
  [[nodiscard]] Status add_budget(const std::string& scope, Nanos delta);
  [[nodiscard]] Status flush_budgets();
  Result<std::int64_t> append(std::string_view kind, const std::string& account, Nanos amount,
                              std::int64_t reservation, std::string refs);
  // Writes state, cost and funding, and the receipt's JSON when given.
  [[nodiscard]] Status update_row(const Row& row, const SignedReceipt* receipt = nullptr);
  Result<std::optional<Receipt>> load_receipt(std::int64_t id);
  static Reservation to_reservation(const Row& row, bool replayed);
  std::vector<std::string> budget_scopes(const Row& row) const;

  sql::Db db_;
  Options options_;
  std::optional<LedgerWriter> ledger_;
  sql::Stmt begin_, commit_, rollback_;
  sql::Stmt by_key_, by_id_, insert_row_, update_row_, free_key_;
  sql::Stmt get_budget_, put_budget_, get_receipt_, insert_tab_receipt_;
  sql::Stmt open_of_owner_, data_version_, stake_grants_;
  std::uint64_t writes_ = 0;
  bool in_transaction_ = false;
  WalStats wal_;
  int wal_pages_ = 0;  // the WAL's length after the last commit

  // Kept across transactions while data_version_ reads the same (see above).
  std::optional<std::int64_t> seen_version_;
  std::optional<std::vector<StakeGrant>> grants_;  // as loaded for grants_day_start_
  std::int64_t grants_day_start_ = 0;
  std::map<std::string, std::optional<Nanos>, std::less<>> budgets_;
  // Reserved here and still open: settle() finds the row without reading it back.
  std::unordered_map<std::int64_t, Row> open_rows_;

  // Per-transaction state.
  std::int64_t now_ms_ = 0;
  std::string today_;
  std::vector<StakeGrant> buckets_;  // grants with a bucket open today
  std::map<std::string, Nanos, std::less<>> dirty_budgets_;
};

// Budget scopes in budget_spend: "run:<run>" and "agent:<agent>:<YYYY-MM-DD>".
std::string run_scope(std::string_view run);
std::string agent_day_scope(std::string_view agent, std::string_view date);

}  // namespace perdiem::wallet
