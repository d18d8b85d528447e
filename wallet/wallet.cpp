#include "wallet/wallet.hpp"

#include <algorithm>
#include <iterator>
#include <set>

#include "wallet/audit.hpp"
#include "wallet/book.hpp"
#include "wallet/checkpointer.hpp"
#include "wallet/grants.hpp"
#include "wallet/group_commit.hpp"
#include "wallet/owner_lock.hpp"
#include "wallet/schema.hpp"
#include "wallet/stored_receipt.hpp"
#include "wallet/utc.hpp"
#include "wallet/wal_vfs.hpp"

namespace perdiem::wallet {
namespace {

template <typename T>
std::future<Result<T>> ready(Result<T> value) {
  std::promise<Result<T>> promise;
  promise.set_value(std::move(value));
  return promise.get_future();
}

// Binds wallet.db to one address, so a key never signs for another wallet's ledger.
Status claim_address(sql::Db& db, const Address& address) {
  Status st = db.exec("BEGIN IMMEDIATE");
  if (!st.ok()) return st;
  auto get = db.prepare("SELECT value FROM meta WHERE key = 'address'");
  if (!get) {
    (void)db.exec("ROLLBACK");
    return get.error();
  }
  auto row = get->step();
  if (!row) {
    get->reset();
    (void)db.exec("ROLLBACK");
    return row.error();
  }
  if (*row) {
    std::string owner = get->column_text(0);
    get->reset();
    (void)db.exec("ROLLBACK");
    if (owner != address.to_string())
      return make_error(ErrorKind::invalid_argument,
                        "this wallet.db belongs to " + owner + ", not " + address.to_string());
    return {};
  }
  get->reset();
  st = db.exec("INSERT INTO meta(key, value) VALUES('address', '" + address.to_string() + "')");
  if (!st.ok()) {
    (void)db.exec("ROLLBACK");
    return st;
  }
  return db.exec("COMMIT");
}

}  // namespace

struct Wallet::Impl {
  base::Clock* clock = nullptr;
  WalletOptions options;
  std::optional<OwnerLock> lock;  // declared first: released after every write
  std::mutex read_mu;
  std::optional<sql::Db> reader;
  std::unique_ptr<Checkpointer> checkpointer;  // outlives the writer's Book, which calls it
  std::unique_ptr<GroupCommit> writer;
};

Wallet::Wallet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Wallet::~Wallet() {
  if (!impl_ || !impl_->writer) return;
  // Reservations still open here are abandoned by this process: settle them at their hold,
  // as a crash would, rather than leave them to the next open.
  std::string owner = impl_->lock->id();
  (void)impl_->writer
      ->submit<std::int64_t>([owner](Book& book) { return book.recover_owner(owner); })
      .get();
  impl_->writer.reset();
}

Result<std::unique_ptr<Wallet>> Wallet::open(const std::string& path, base::Clock& clock,
                                             WalletOptions options) {
  Address address;
  if (options.signer) {
    address = options.signer->address();
  } else if (options.address) {
    address = *options.address;
  } else {
    return make_error(ErrorKind::invalid_argument, "a wallet needs a signing key or an address");
  }
  if (options.address && !(*options.address == address))
    return make_error(ErrorKind::invalid_argument, "the address does not match the signing key");

  // The writer's connection coalesces each commit's WAL writes (see wal_vfs.hpp).
  auto db = sql::Db::open(path, options.busy_timeout_ms, wal_buffering_vfs());
  if (!db) return db.error();
  Status st = configure_connection(*db);
  if (st.ok()) st = create_schema(*db);
  if (st.ok()) st = claim_address(*db, address);
  if (!st.ok()) return st.error();

  auto impl = std::make_unique<Impl>();
  impl->clock = &clock;
  impl->options = options;
  auto reader = sql::Db::open(path, options.busy_timeout_ms);
  if (!reader) return reader.error();
  impl->reader.emplace(std::move(*reader));
  auto lock = OwnerLock::acquire(path);
  if (!lock) return lock.error();
  impl->lock.emplace(std::move(*lock));

  if (options.checkpoint_pages > 0 && options.wal_restart_pages > 0) {
    auto checkpointer = Checkpointer::start(
        path, options.checkpoint_pages,
        std::max(options.checkpoint_pages, options.wal_restart_pages), options.busy_timeout_ms);
    if (!checkpointer) return checkpointer.error();
    impl->checkpointer = std::move(*checkpointer);
  }
  auto book = Book::create(
      std::move(*db), Book::Options{options.min_stake, impl->lock->id(), options.checkpoint_pages,
                                    impl->checkpointer.get()});
  if (!book) return book.error();
  impl->writer = std::make_unique<GroupCommit>(std::move(*book), clock, options.max_batch);

  std::unique_ptr<Wallet> wallet(new Wallet(std::move(impl)));
  wallet->address_ = address;
  auto recovered = wallet->recover_abandoned();
  if (!recovered) return recovered.error();
  return wallet;
}

Wallet::WriterStats Wallet::writer_stats() const {
  auto s = impl_->writer->stats();
  auto c = impl_->checkpointer ? impl_->checkpointer->stats() : Checkpointer::Stats{};
  WriterStats w;
  w.batches = s.batches;
  w.operations = s.operations;
  w.busy_us = s.busy_us;
  w.commit_us = s.commit_us;
  w.cpu_us = s.cpu_us;
  w.commits = s.commits;
  w.wal_pages = s.wal.frames;
  w.checkpoints = s.wal.checkpoints;
  w.checkpoint_us = s.wal.checkpoint_us;
  w.background_checkpoints = c.rounds;
  w.background_checkpoint_us = c.round_us;
  return w;
}

Result<std::int64_t> Wallet::recover_abandoned() {
  std::vector<std::string> owners;
  {
    std::lock_guard<std::mutex> guard(impl_->read_mu);
    auto stmt =
        impl_->reader->prepare("SELECT DISTINCT owner FROM reservations WHERE state = 'open'");
    if (!stmt) return stmt.error();
    for (;;) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      owners.push_back(stmt->column_text(0));
    }
  }
  const std::string& dir = impl_->lock->directory();
  std::vector<std::string> dead;
  for (const auto& owner : owners)
    if (owner != impl_->lock->id() && !owner_alive(dir, owner)) dead.push_back(owner);
  std::int64_t recovered = 0;
  if (!dead.empty()) {
    auto done = impl_->writer
                    ->submit<std::int64_t>([dead](Book& book) -> Result<std::int64_t> {
                      std::int64_t total = 0;
                      for (const auto& owner : dead) {
                        auto n = book.recover_owner(owner);
                        if (!n) return n.error();
                        total += *n;
                      }
                      return total;
                    })
                    .get();
    if (!done) return done.error();
    recovered = *done;
    for (const auto& owner : dead) reap_owner(dir, owner);
  }
  reap_stale_owners(dir, {impl_->lock->id()});
  return recovered;
}

std::future<Result<Reservation>> Wallet::reserve_async(const ReserveRequest& request) {
  return impl_->writer->submit<Reservation>(
      [request](Book& book) { return book.reserve(request); });
}

Result<Reservation> Wallet::reserve(const ReserveRequest& request) {
  return reserve_async(request).get();
}

Result<Reservation> Wallet::lookup(std::int64_t id) {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  auto stmt = impl_->reader->prepare("SELECT provider, run FROM reservations WHERE id = ?");
  if (!stmt) return stmt.error();
  stmt->bind(1, id);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return make_error(ErrorKind::not_found, "no reservation " + std::to_string(id));
  Reservation r;
  r.id = id;
  r.provider = stmt->column_text(0);
  r.run = stmt->column_text(1);
  return r;
}

Result<Receipt> Wallet::make_receipt(const Reservation& reservation, Nanos cost, bool final,
                                     const CallRecord& call) {
  if (!impl_->options.signer)
    return make_error(ErrorKind::auth,
                      "the wallet was opened without its key; cannot sign receipts");
  if (!valid_receipt_text(call.model))
    return make_error(ErrorKind::invalid_argument,
                      "model id '" + call.model + "' has characters outside [A-Za-z0-9._:/@+-]");
  Receipt receipt;
  receipt.id = receipt_id_for(reservation);
  receipt.provider = reservation.provider;
  receipt.run = reservation.run;
  receipt.final = final;
  receipt.step = call.step;
  receipt.model = call.model;
  receipt.usage = call.usage;
  receipt.prices = call.prices;
  receipt.cost = cost;
  receipt.time_ms = impl_->clock->now_unix_ms();
  receipt.request_hash = call.request_hash;
  receipt.response_hash = call.response_hash;
  return sign_receipt(std::move(receipt), *impl_->options.signer);
}

std::future<Result<Settlement>> Wallet::settle_impl(const Reservation& reservation, Nanos cost,
                                                    bool final, const CallRecord& call) {
  if (cost < 0)
    return ready<Settlement>(make_error(ErrorKind::invalid_argument, "cost must not be negative"));
  // Signing and serializing happen here, on the caller's thread, so the writer only writes.
  auto receipt = make_receipt(reservation, cost, final, call);
  if (!receipt) return ready<Settlement>(receipt.error());
  std::string json = receipt_to_json(*receipt);
  std::optional<Book::SignedReceipt> signed_receipt(
      Book::SignedReceipt{std::move(*receipt), std::move(json)});
  return impl_->writer->submit<Settlement>(
      [id = reservation.id, cost, final, r = std::move(signed_receipt)](Book& book) {
        return book.settle(id, cost, final, r);
      });
}

std::int64_t Wallet::now_ms() const {
  return impl_->clock->now_unix_ms();
}

std::future<Result<Settlement>> Wallet::settle_tab_async(const Reservation& tab,
                                                         std::vector<TabCall> calls) {
  std::vector<TabToSettle> one;
  one.push_back(TabToSettle{tab, std::move(calls)});
  return std::move(settle_tabs_async(std::move(one)).front());
}

namespace {

// The receipts of one tab's calls, unsigned; an error for a call no receipt may hold.
Result<std::vector<Receipt>> tab_receipts(const Reservation& tab, std::vector<TabCall>& calls) {
  std::vector<Receipt> receipts;
  receipts.reserve(calls.size());
  for (TabCall& call : calls) {
    if (call.cost < 0) return make_error(ErrorKind::invalid_argument, "cost must not be negative");
    if (!valid_receipt_text(call.record.model))
      return make_error(
          ErrorKind::invalid_argument,
          "model id '" + call.record.model + "' has characters outside [A-Za-z0-9._:/@+-]");
    if (!valid_receipt_text(call.record.run))
      return make_error(
          ErrorKind::invalid_argument,
          "run id '" + call.record.run + "' has characters outside [A-Za-z0-9._:/@+-]");
    Receipt receipt;
    receipt.id = tab_receipt_id(tab.id, call.seq);
    receipt.provider = tab.provider;
    // A tab shared by runs (held under no run) names each call's run in its receipt.
    receipt.run = call.record.run.empty() ? tab.run : std::move(call.record.run);
    receipt.final = call.final;
    receipt.step = call.record.step;
    receipt.model = std::move(call.record.model);
    receipt.usage = call.record.usage;
    receipt.prices = call.record.prices;
    receipt.cost = call.cost;
    receipt.time_ms = call.time_ms;
    receipt.request_hash = call.record.request_hash;
    receipt.response_hash = call.record.response_hash;
    receipts.push_back(std::move(receipt));
  }
  return receipts;
}

}  // namespace

std::vector<std::future<Result<Settlement>>> Wallet::settle_tabs_async(
    std::vector<TabToSettle> tabs) {
  std::vector<std::future<Result<Settlement>>> settled(tabs.size());
  if (!impl_->options.signer) {
    for (auto& future : settled)
      future = ready<Settlement>(make_error(
          ErrorKind::auth, "the wallet was opened without its key; cannot sign receipts"));
    return settled;
  }
  // Every accepted tab's receipts, one after the other, for one signature.
  std::vector<Receipt> receipts;
  std::vector<std::size_t> accepted;  // indexes into `tabs`
  std::vector<std::size_t> first;     // where each accepted tab's receipts start
  for (std::size_t i = 0; i < tabs.size(); ++i) {
    Result<std::vector<Receipt>> made = tab_receipts(tabs[i].tab, tabs[i].calls);
    if (!made) {
      settled[i] = ready<Settlement>(made.error());
      continue;
    }
    accepted.push_back(i);
    first.push_back(receipts.size());
    std::move(made->begin(), made->end(), std::back_inserter(receipts));
  }
  // One tab's batch is stored without proofs (its receipts are read together); a batch
  // across tabs keeps them, since a run's receipts are read without the other tabs'.
  sign_receipt_batch(receipts, *impl_->options.signer, /*with_proofs=*/accepted.size() > 1);
  first.push_back(receipts.size());
  for (std::size_t a = 0; a < accepted.size(); ++a) {
    const TabToSettle& tab = tabs[accepted[a]];
    Nanos total = 0;
    bool final = true;
    std::vector<Book::TabReceipt> stored;
    stored.reserve(first[a + 1] - first[a]);
    for (std::size_t r = first[a]; r < first[a + 1]; ++r) {
      const TabCall& call = tab.calls[r - first[a]];
      total += call.cost;
      final = final && call.final;
      // Signed in a version 2 batch just above: always packable.
      std::string packed = pack_receipt(receipts[r]);
      stored.push_back(Book::TabReceipt{call.seq, std::move(receipts[r]), std::move(packed)});
    }
    settled[accepted[a]] = impl_->writer->submit<Settlement>(
        [id = tab.tab.id, total, final, r = std::move(stored)](Book& book) {
          return book.settle_tab(id, total, final, r);
        });
  }
  return settled;
}

std::future<Result<Settlement>> Wallet::settle_async(const Reservation& reservation, Nanos cost,
                                                     const CallRecord& call) {
  return settle_impl(reservation, cost, /*final=*/true, call);
}

Result<Settlement> Wallet::settle(const Reservation& reservation, Nanos cost,
                                  const CallRecord& call) {
  return settle_impl(reservation, cost, /*final=*/true, call).get();
}

Result<Settlement> Wallet::settle(std::int64_t id, Nanos cost, const CallRecord& call) {
  auto reservation = lookup(id);
  if (!reservation) return reservation.error();
  return settle_impl(*reservation, cost, /*final=*/true, call).get();
}

Result<Settlement> Wallet::settle_estimate(std::int64_t id, Nanos estimate,
                                           const CallRecord& call) {
  auto reservation = lookup(id);
  if (!reservation) return reservation.error();
  return settle_impl(*reservation, estimate, /*final=*/false, call).get();
}

Result<Settlement> Wallet::reconcile(std::int64_t id, Nanos real_cost,
                                     const std::optional<CallRecord>& call) {
  if (!impl_->options.signer)
    return make_error(ErrorKind::auth,
                      "the wallet was opened without its key; cannot sign receipts");
  std::optional<Receipt> receipt;
  {
    std::lock_guard<std::mutex> guard(impl_->read_mu);
    auto stmt = impl_->reader->prepare(
        "SELECT receipt FROM reservations WHERE id = ? AND receipt IS NOT NULL");
    if (!stmt) return stmt.error();
    stmt->bind(1, id);
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) {
      auto parsed = parse_receipt(stmt->column_text(0));
      if (parsed) receipt = std::move(*parsed);
    }
  }
  if (receipt) {
    if (call) {
      receipt->model = call->model;
      receipt->step = call->step;
      receipt->usage = call->usage;
      receipt->prices = call->prices;
      receipt->request_hash = call->request_hash;
      receipt->response_hash = call->response_hash;
    }
    receipt->cost = real_cost;
    receipt->final = true;
    receipt->time_ms = impl_->clock->now_unix_ms();
    receipt = sign_receipt(std::move(*receipt), *impl_->options.signer);
  } else {
    auto reservation = lookup(id);
    if (!reservation) return reservation.error();
    auto made = make_receipt(*reservation, real_cost, /*final=*/true, call.value_or(CallRecord{}));
    if (!made) return made.error();
    receipt = std::move(*made);
  }
  std::optional<Book::SignedReceipt> signed_receipt(
      Book::SignedReceipt{*receipt, receipt_to_json(*receipt)});
  return impl_->writer
      ->submit<Settlement>([id, real_cost, r = std::move(signed_receipt)](Book& book) {
        return book.reconcile(id, real_cost, r);
      })
      .get();
}

Status Wallet::sync() {
  // Batches commit in order, so when this no-op's batch has committed, so has every
  // operation queued before it.
  return impl_->writer->submit<bool>([](Book&) -> Result<bool> { return true; }).get().status();
}

Result<Reservation> Wallet::release(std::int64_t id) {
  return impl_->writer->submit<Reservation>([id](Book& book) { return book.release(id); }).get();
}

Result<std::int64_t> Wallet::accept_grant(std::string_view json) {
  auto grant = parse_grant(json);
  if (!grant) return grant.error();
  Status st = check_grant_signature(*grant);
  if (!st.ok()) return st.error();
  bool trusted = false;
  for (const auto& issuer : impl_->options.trusted_issuers) trusted |= issuer == grant->issuer;
  if (!trusted)
    return make_error(ErrorKind::auth, "grant issuer " + grant->issuer.to_string() +
                                           " is not a trusted issuer of this wallet");
  if (!(grant->holder == address_))
    return make_error(ErrorKind::invalid_argument, "grant is for " + grant->holder.to_string() +
                                                       ", not this wallet (" +
                                                       address_.to_string() + ")");
  std::int64_t now_s = impl_->clock->now_unix_ms() / 1000;
  if (now_s < grant->not_before)
    return make_error(ErrorKind::invalid_argument,
                      "grant is not valid before " + utc_iso8601(grant->not_before));
  if (grant->expires != 0 && now_s >= grant->expires)
    return make_error(ErrorKind::invalid_argument,
                      "grant expired at " + utc_iso8601(grant->expires));
  std::string document(json);
  return impl_->writer
      ->submit<std::int64_t>(
          [g = std::move(*grant), document](Book& book) { return book.accept_grant(g, document); })
      .get();
}

Status Wallet::revoke(std::string_view revocation_json) {
  auto revocation = parse_revocation(revocation_json);
  if (!revocation) return revocation.error();
  Status st = check_revocation_signature(*revocation);
  if (!st.ok()) return st;
  bool trusted = false;
  for (const auto& issuer : impl_->options.trusted_issuers) trusted |= issuer == revocation->issuer;
  if (!trusted)
    return make_error(ErrorKind::auth, "revocation issuer " + revocation->issuer.to_string() +
                                           " is not a trusted issuer of this wallet");
  if (!(revocation->holder == address_))
    return make_error(ErrorKind::invalid_argument, "revocation is for another wallet");
  auto done = impl_->writer
                  ->submit<bool>([r = *revocation](Book& book) -> Result<bool> {
                    Status s = book.revoke(r);
                    if (!s.ok()) return s.error();
                    return true;
                  })
                  .get();
  return done.status();
}

Result<Balance> Wallet::balance() {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  return read_balance(*impl_->reader, impl_->clock->now_unix_ms(), impl_->options.min_stake);
}

Result<Coverage> Wallet::coverage(std::string_view provider, Nanos amount) {
  auto b = balance();
  if (!b) return b.error();
  return coverage_of(*b, provider, amount);
}

Result<Nanos> Wallet::spent(std::string_view run) {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  // The run's own reservations, and its calls' receipts in tabs shared by runs (held
  // under no run), which count once their tab is settled.
  auto stmt = impl_->reader->cached(
      "SELECT (SELECT COALESCE(SUM(CASE state WHEN 'open' THEN hold WHEN 'released' THEN 0 "
      "ELSE cost END), 0) FROM reservations WHERE run = ?1) + (SELECT COALESCE(SUM(t.cost), 0) "
      "FROM (SELECT reservation, SUM(cost) AS cost FROM tab_receipts WHERE run = ?1 "
      "GROUP BY reservation) t JOIN reservations r ON r.id = t.reservation WHERE r.run = '')");
  if (!stmt) return stmt.error();
  sql::ResetGuard reset(**stmt);
  (*stmt)->bind(1, run);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  return (*stmt)->column_int(0);
}

Result<VerifyReport> Wallet::verify() {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  return verify_wallet(*impl_->reader);
}

Result<std::vector<LedgerEntry>> Wallet::history(std::int64_t after_seq, std::int64_t limit) {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  return read_ledger(*impl_->reader, after_seq, limit);
}

namespace {

// The receipt stored in column 0 of the statement's next row; none after the last row.
Result<std::optional<Receipt>> next_receipt(sql::Stmt& stmt) {
  auto row = stmt.step();
  if (!row) return row.error();
  if (!*row) return std::optional<Receipt>();
  auto receipt = read_stored_receipt(stmt, 0);
  if (!receipt)
    return make_error(ErrorKind::storage,
                      "a stored receipt is corrupt: " + receipt.error().message);
  return std::optional<Receipt>(std::move(*receipt));
}

}  // namespace

Result<std::vector<Receipt>> Wallet::receipts(std::string_view run) {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  auto stmt = impl_->reader->prepare(
      run.empty()
          ? "SELECT receipt, id, 0 FROM reservations WHERE receipt IS NOT NULL "
            "UNION ALL SELECT receipt, reservation, seq FROM tab_receipts ORDER BY 2, 3"
          : "SELECT receipt, id, 0 FROM reservations WHERE run = ?1 AND receipt IS NOT NULL "
            "UNION ALL SELECT receipt, reservation, seq FROM tab_receipts WHERE run = ?1 "
            "ORDER BY 2, 3");
  if (!stmt) return stmt.error();
  if (!run.empty()) stmt->bind(1, run);
  std::vector<Receipt> out;
  std::set<std::int64_t> tabs;  // the tabs `out` has receipts of
  for (;;) {
    auto receipt = next_receipt(*stmt);
    if (!receipt) return receipt.error();
    if (!*receipt) break;
    if ((*receipt)->batch && (*receipt)->batch->proof.empty()) tabs.insert(stmt->column_int(1));
    out.push_back(std::move(**receipt));
  }
  // A tab's receipts are stored without their proofs; they are rebuilt from the batch.
  // A tab shared by runs holds other runs' receipts too: read with them, then dropped.
  const std::size_t own = out.size();
  if (!run.empty() && !tabs.empty()) {
    auto others = impl_->reader->prepare(
        "SELECT t.receipt FROM tab_receipts t JOIN reservations r ON r.id = t.reservation "
        "WHERE t.reservation = ?1 AND r.run = '' AND t.run != ?2");
    if (!others) return others.error();
    for (std::int64_t tab : tabs) {
      sql::ResetGuard reset(*others);
      others->bind(1, tab).bind(2, run);
      for (;;) {
        auto receipt = next_receipt(*others);
        if (!receipt) return receipt.error();
        if (!*receipt) break;
        out.push_back(std::move(**receipt));
      }
    }
  }
  fill_batch_proofs(out);
  out.resize(own);
  return out;
}

Result<std::vector<Reservation>> Wallet::unreconciled() {
  std::lock_guard<std::mutex> guard(impl_->read_mu);
  auto stmt = impl_->reader->prepare(
      "SELECT id, provider, run, hold, cost FROM reservations WHERE state = 'unreconciled' "
      "ORDER BY id");
  if (!stmt) return stmt.error();
  std::vector<Reservation> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    Reservation r;
    r.id = stmt->column_int(0);
    r.state = ReservationState::unreconciled;
    r.provider = stmt->column_text(1);
    r.run = stmt->column_text(2);
    r.hold = stmt->column_int(3);
    r.cost = stmt->column_int(4);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace perdiem::wallet
