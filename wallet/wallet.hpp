// The Wallet: an agent's on-device purse. Holds staked credits (a daily allowance) and a
// USD balance, reserves the worst case before each model call, settles the real cost
// after it (signing a receipt), enforces budgets, and keeps a verifiable ledger.
//
// Storage: one SQLite file (wallet.db, WAL, synchronous=FULL) that several processes may
// share; each write runs in BEGIN IMMEDIATE, so budgets hold across processes too.
// Writes from all threads go through one group-commit writer per Wallet: callers block
// on (or, with the *_async forms, hold) a future that resolves once their operation is
// durable. The least a model call must wait for is its reservation; see settle_async()
// for settling without waiting (what wallet_bench calls "pipelined").
// Time: every decision uses the injected clock (allowance day, grant validity, receipts).
// Thread-safety: every method may be called from any thread concurrently. Do not fork()
// with a Wallet open; open one per process.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "perdiem/error.hpp"
#include "wallet/balance.hpp"
#include "wallet/credits.hpp"
#include "wallet/keys.hpp"
#include "wallet/latency_histogram.hpp"
#include "wallet/ledger.hpp"
#include "wallet/receipts.hpp"
#include "wallet/reservations.hpp"

namespace perdiem::wallet {

class GroupCommit;
class OwnerLock;

struct WalletOptions {
  // Signs receipts; settle() needs it. Read-only uses (balance, verify, history) may omit
  // it and give `address` instead.
  std::shared_ptr<const PrivateKey> signer;
  std::optional<Address> address;       // the wallet's address when there is no signer
  std::vector<Address> trusted_issuers;  // grants are accepted only from these
  Nanos min_stake = kDefaultMinStake;
  int busy_timeout_ms = 10'000;          // waiting for another process's write lock
  std::size_t max_batch = 512;           // operations per group commit
  int checkpoint_pages = 1000;           // WAL pages that start a checkpoint; 0 never
  // Checkpoints run on a thread beside the writer (checkpointer.hpp), which itself
  // completes one, so the WAL restarts, once the WAL is this long (16 MB at 4 KiB pages).
  // 0: SQLite's way, the whole checkpoint inside the commit that finds the WAL long.
  int wal_restart_pages = 4000;
};

class Wallet {
 public:
  // Opens (creating if needed) the wallet at `path`; the clock must outlive the Wallet.
  // Settles, as unreconciled, any reservation left open by a process that has died.
  // Refuses a wallet.db that belongs to another address.
  static Result<std::unique_ptr<Wallet>> open(const std::string& path, base::Clock& clock,
                                              WalletOptions options);
  ~Wallet();
  Wallet(const Wallet&) = delete;
  Wallet& operator=(const Wallet&) = delete;

  const Address& address() const { return address_; }

  // Holds request.worst_case, funded by today's allowance for the provider, then USD.
  // Errors: budget_exceeded or insufficient_credits (saying what was needed and what is
  // available), invalid_argument. A repeated idempotency key returns the earlier
  // reservation (replayed = true) unless that one was released.
  Result<Reservation> reserve(const ReserveRequest& request);
  std::future<Result<Reservation>> reserve_async(const ReserveRequest& request);

  // Charges `cost` (usually cost_of(prices, usage)), releases the rest of the hold and
  // stores a signed receipt. Settling a settled reservation again returns the first
  // settlement (replayed = true) and charges nothing. auth error without a signer.
  Result<Settlement> settle(std::int64_t id, Nanos cost, const CallRecord& call);
  // The same, given the reservation reserve() returned (saves reading it back).
  Result<Settlement> settle(const Reservation& reservation, Nanos cost, const CallRecord& call);
  // Pipelined settle: signs the receipt on this thread, queues the settlement and returns;
  // the future resolves once it is durable. The caller may go on at once (a call's
  // reservation, not its settlement, is what must be durable before the call is sent).
  // Operations are applied in the order they are queued, so a later reserve() sees this
  // settlement's effect on balances and budgets, and once that later operation is durable
  // so is this one. The future may be dropped; the settlement still commits. If the
  // process dies first, the reservation stays open and the next open() settles it at its
  // hold, unreconciled: never above a budget (the hold was within every budget), and
  // reconcile() can correct it. Errors a settle can return (see settle()) arrive only
  // through the future. spent() counts the hold until the settlement commits; sync()
  // waits for that.
  std::future<Result<Settlement>> settle_async(const Reservation& reservation, Nanos cost,
                                               const CallRecord& call);
  // Settles a metering tab: `tab` was reserve()d for many calls (ReserveRequest::at_least)
  // and `calls` are what was charged inside it. Charges their sum (unreconciled if any
  // is an estimate), releases the rest of the hold and stores one receipt per call, all
  // signed in one batch (receipt_batch.hpp) on this thread; the future resolves once that
  // is durable, as settle_async()'s. Empty `calls` releases nothing early: the tab is
  // settled at 0 (it stays a record that the hold existed).
  std::future<Result<Settlement>> settle_tab_async(const Reservation& tab,
                                                   std::vector<TabCall> calls);
  // settle_tab_async() for many tabs at once, with one signature over all of their
  // receipts: when thousands of short runs end together, signing each one's tab would
  // cost more than settling it. A batch that spans tabs stores each receipt's Merkle
  // proof, so a receipt read with its run's alone still verifies on its own. A tab
  // refused (a negative cost, a bad model id) fails alone. Futures in `tabs`' order.
  std::vector<std::future<Result<Settlement>>> settle_tabs_async(std::vector<TabToSettle> tabs);
  // The wallet's clock, for stamping receipts made later (tab calls).
  std::int64_t now_ms() const;
  // For a stream that broke after tokens arrived: charges an estimate now and marks the
  // reservation unreconciled (receipt status "estimate").
  Result<Settlement> settle_estimate(std::int64_t id, Nanos estimate, const CallRecord& call);
  // Replaces the charge of an unreconciled reservation (estimate or crash-recovered) with
  // the real cost, and re-signs its receipt as final. Costs above the hold are charged to
  // USD. `call` updates the receipt's usage; without it the old receipt's fields are kept.
  Result<Settlement> reconcile(std::int64_t id, Nanos real_cost,
                               const std::optional<CallRecord>& call = std::nullopt);
  // The call failed: returns the whole hold. Releasing twice is harmless.
  Result<Reservation> release(std::int64_t id);
  // Settles reservations of dead processes (open() already does this). Returns how many.
  Result<std::int64_t> recover_abandoned();
  // Returns once every operation queued before the call (by any thread) has been applied:
  // committed and durable, or failed with its own error (which went to its own future).
  [[nodiscard]] Status sync();

  // Accepts a signed grant (JSON): trusted issuer, our address, valid now, never seen.
  // Returns the grant id. Every refusal is an error and changes nothing.
  Result<std::int64_t> accept_grant(std::string_view json);
  // Applies a signed revocation of a stake grant (effective from the next UTC day).
  [[nodiscard]] Status revoke(std::string_view revocation_json);

  Result<Balance> balance();
  Result<Coverage> coverage(std::string_view provider, Nanos amount);
  // What a run has committed: settled costs plus open holds, plus the receipts of its
  // calls in settled metering tabs shared by runs (a shared tab still open counts for no
  // run: Meter::flush_run first).
  Result<Nanos> spent(std::string_view run);
  Result<VerifyReport> verify();
  Result<std::vector<LedgerEntry>> history(std::int64_t after_seq = 0, std::int64_t limit = 1000);
  // Receipts of a run ("" = all), oldest first: a tab's receipts (ids "<tab>.<seq>") in
  // the tab's place.
  Result<std::vector<Receipt>> receipts(std::string_view run = {});
  Result<std::vector<Reservation>> unreconciled();

  // Group-commit counters, for the benchmark.
  struct WriterStats {
    std::size_t batches = 0;
    std::size_t operations = 0;
    std::int64_t busy_us = 0;    // inside write transactions
    std::int64_t commit_us = 0;  // of which in COMMIT (WAL append + fsync)
    std::int64_t cpu_us = 0;     // the writer thread's CPU time in them
    LatencyHistogram commits;    // each COMMIT's duration, in microseconds
    std::uint64_t wal_pages = 0;       // pages the commits wrote to the WAL
    std::uint64_t checkpoints = 0;     // WAL checkpoints run (or finished) inside a COMMIT
    std::int64_t checkpoint_us = 0;    // their time (part of commit_us)
    std::uint64_t background_checkpoints = 0;  // rounds run beside the writer
    std::int64_t background_checkpoint_us = 0;
  };
  WriterStats writer_stats() const;

 private:
  struct Impl;
  explicit Wallet(std::unique_ptr<Impl> impl);
  // Provider and run of a reservation, read back from wallet.db.
  Result<Reservation> lookup(std::int64_t id);
  Result<Receipt> make_receipt(const Reservation& reservation, Nanos cost, bool final,
                               const CallRecord& call);
  std::future<Result<Settlement>> settle_impl(const Reservation& reservation, Nanos cost,
                                              bool final, const CallRecord& call);

  std::unique_ptr<Impl> impl_;
  Address address_;
};

}  // namespace perdiem::wallet
