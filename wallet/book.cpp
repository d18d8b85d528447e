#include "wallet/book.hpp"

#include <sqlite3.h>

#include <chrono>

#include "wallet/utc.hpp"

namespace perdiem::wallet {

std::string run_scope(std::string_view run) { return "run:" + std::string(run); }

std::string agent_day_scope(std::string_view agent, std::string_view date) {
  return "agent:" + std::string(agent) + ":" + std::string(date);
}

Result<std::unique_ptr<Book>> Book::create(sql::Db db, Options options) {
  std::unique_ptr<Book> book(new Book(std::move(db), std::move(options)));
  Status st = book->prepare_all();
  if (!st.ok()) return st.error();
  // Durability, and the WAL-buffering VFS (wal_vfs.hpp), depend on FULL syncs.
  auto sync = book->db_.prepare("PRAGMA synchronous");
  if (!sync) return sync.error();
  auto row = sync->step();
  if (!row) return row.error();
  if (!*row || sync->column_int(0) < 2)
    return make_error(ErrorKind::storage, "the wallet's writer needs PRAGMA synchronous=FULL");
  sqlite3_wal_hook(book->db_.handle(), &Book::on_wal_commit, book.get());
  return book;
}

Book::~Book() {
  if (db_.handle()) sqlite3_wal_hook(db_.handle(), nullptr, nullptr);
}

int Book::on_wal_commit(void* self, sqlite3* db, const char* schema, int wal_pages) {
  auto* book = static_cast<Book*>(self);
  // A WAL that got shorter was restarted (after a checkpoint): it holds only new pages.
  book->wal_.frames += static_cast<std::uint64_t>(
      wal_pages >= book->wal_pages_ ? wal_pages - book->wal_pages_ : wal_pages);
  book->wal_pages_ = wal_pages;
  if (Checkpointer* background = book->options_.checkpointer) {
    if (std::int64_t took = background->committed(db, schema, wal_pages); took > 0) {
      ++book->wal_.checkpoints;
      book->wal_.checkpoint_us += took;
    }
    return SQLITE_OK;
  }
  const int limit = book->options_.checkpoint_pages;
  if (limit > 0 && wal_pages >= limit) {
    using namespace std::chrono;
    const auto start = steady_clock::now();
    // PASSIVE, as SQLite's own auto-checkpoint: never waits for readers or writers.
    // Failure is harmless (the next commit tries again), so it is not reported.
    (void)sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ++book->wal_.checkpoints;
    book->wal_.checkpoint_us +=
        duration_cast<microseconds>(steady_clock::now() - start).count();
  }
  return SQLITE_OK;
}

Status Book::prepare_all() {
  auto ledger = LedgerWriter::create(db_);
  if (!ledger) return ledger.error();
  ledger_.emplace(std::move(*ledger));
  struct {
    sql::Stmt* out;
    const char* text;
  } statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&by_key_, "SELECT id FROM reservations WHERE live_key = ?"},
      {&by_id_,
       "SELECT id, state, provider, run, agent, agent_day, owner, hold, cost, funding "
       "FROM reservations WHERE id = ?"},
      {&insert_row_,
       "INSERT INTO reservations(key, live_key, state, provider, run, agent, agent_day, hold, "
       "cost, funding, owner, created_ms, updated_ms) "
       "VALUES(?1,?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)"},
      // Its own statement: an UPDATE naming live_key rewrites the key's index entry.
      {&free_key_, "UPDATE reservations SET live_key = NULL WHERE id = ?"},
      {&update_row_,
       "UPDATE reservations SET state = ?, cost = ?, funding = ?, updated_ms = ?, "
       "receipt = COALESCE(?, receipt) WHERE id = ?"},
      {&get_budget_, "SELECT amount FROM budget_spend WHERE scope = ?"},
      {&put_budget_,
       "INSERT INTO budget_spend(scope, amount) VALUES(?, ?) "
       "ON CONFLICT(scope) DO UPDATE SET amount = excluded.amount"},
      {&get_receipt_, "SELECT receipt FROM reservations WHERE id = ? AND receipt IS NOT NULL"},
      {&insert_tab_receipt_,
       "INSERT INTO tab_receipts(reservation, seq, run, cost, receipt) VALUES(?, ?, ?, ?, ?)"},
      {&open_of_owner_, "SELECT id FROM reservations WHERE owner = ? AND state = 'open'"},
      {&data_version_, "PRAGMA data_version"},
      {&stake_grants_, kStakeGrantsQuery},
  };
  for (auto& s : statements) {
    auto stmt = db_.prepare(s.text);
    if (!stmt) return stmt.error();
    *s.out = std::move(*stmt);
  }
  return {};
}

Status Book::begin(std::int64_t now_ms) {
  Status st = begin_.run();
  if (!st.ok()) return st;
  in_transaction_ = true;
  now_ms_ = now_ms;
  today_ = utc_date(now_ms);
  dirty_budgets_.clear();
  buckets_.clear();
  // Read under the write lock, so nobody can change the file between this and COMMIT.
  std::optional<std::int64_t> version;
  {
    sql::ResetGuard guard(data_version_);
    auto row = data_version_.step();
    if (!row) return row.error();
    if (*row) version = data_version_.column_int(0);
  }
  // Budgets touched are one or two per run, open rows one per call in flight; the bounds
  // keep a long-lived writer small.
  if (!version || version != seen_version_ || budgets_.size() > 4096 ||
      open_rows_.size() > 4096)
    forget();
  seen_version_ = version;
  st = ledger_->begin(/*keep_cache=*/seen_version_.has_value());
  if (!st.ok()) return st;
  return open_allowance();
}

void Book::forget() {
  seen_version_.reset();
  grants_.reset();
  budgets_.clear();
  open_rows_.clear();
  ledger_->discard();
}

Status Book::commit() {
  Status st = ledger_->flush();
  if (st.ok()) st = flush_budgets();
  if (st.ok()) st = commit_.run();
  if (!st.ok()) return st;
  in_transaction_ = false;
  return {};
}

void Book::rollback() {
  if (in_transaction_) (void)rollback_.run();
  in_transaction_ = false;
  dirty_budgets_.clear();
  forget();
}

// Opens today's buckets that are due and loads every bucket open today, so reserve()
// can pick from them without another query.
Status Book::open_allowance() {
  std::int64_t day_start_s = utc_day(now_ms_) * 86400;
  if (!grants_ || grants_day_start_ != day_start_s) {
    auto loaded = load_stake_grants(stake_grants_, day_start_s);
    if (!loaded) return loaded.error();
    grants_ = std::move(*loaded);
    grants_day_start_ = day_start_s;
  }
  const std::vector<StakeGrant>& grants = *grants_;
  for (const StakeGrant* g : grants_to_open(grants, now_ms_ / 1000, options_.min_stake)) {
    std::string account = allowance_account(today_, g->id);
    auto exists = ledger_->exists(account);
    if (!exists) return exists.error();
    if (*exists) continue;
    auto seq = append("allowance", account, g->amount, 0,
                      RefsBuilder().add("grant", g->id).add("day", today_).str());
    if (!seq) return seq.error();
  }
  for (const auto& g : grants) {
    auto exists = ledger_->exists(allowance_account(today_, g.id));
    if (!exists) return exists.error();
    if (*exists) buckets_.push_back(g);
  }
  return {};
}

Result<std::int64_t> Book::append(std::string_view kind, const std::string& account,
                                  Nanos amount, std::int64_t reservation, std::string refs) {
  ++writes_;
  return ledger_->append(kind, account, amount, reservation, std::move(refs), now_ms_);
}

Result<std::optional<Book::Row>> Book::load_row(std::int64_t id) {
  if (auto cached = open_rows_.find(id); cached != open_rows_.end())
    return std::optional<Row>(cached->second);
  sql::ResetGuard guard(by_id_);
  by_id_.bind(1, id);
  auto found = by_id_.step();
  if (!found) return found.error();
  if (!*found) return std::optional<Row>();
  Row row;
  row.id = by_id_.column_int(0);
  auto state = reservation_state_from(by_id_.column_text(1));
  if (!state)
    return make_error(ErrorKind::storage, "reservation " + std::to_string(id) + " has a bad state");
  row.state = *state;
  row.provider = by_id_.column_text(2);
  row.run = by_id_.column_text(3);
  row.agent = by_id_.column_text(4);
  row.agent_day = by_id_.column_text(5);
  row.owner = by_id_.column_text(6);
  row.hold = by_id_.column_int(7);
  row.cost = by_id_.column_int(8);
  auto funding = decode_funding(by_id_.column_text(9));
  if (!funding) return funding.error();
  row.funding = std::move(*funding);
  return std::optional<Row>(std::move(row));
}

Status Book::update_row(const Row& row, const SignedReceipt* receipt) {
  ++writes_;
  update_row_.bind(1, to_string(row.state)).bind(2, row.cost).bind(3, encode_funding(row.funding));
  update_row_.bind(4, now_ms_);
  if (receipt) update_row_.bind(5, receipt->json);
  else update_row_.bind_null(5);
  update_row_.bind(6, row.id);
  Status st = update_row_.run();
  if (st.ok() && row.state != ReservationState::open) open_rows_.erase(row.id);
  return st;
}

Result<Nanos> Book::budget(const std::string& scope) {
  auto it = budgets_.find(scope);
  if (it != budgets_.end()) return it->second.value_or(0);
  sql::ResetGuard guard(get_budget_);
  get_budget_.bind(1, scope);
  auto row = get_budget_.step();
  if (!row) return row.error();
  std::optional<Nanos> value;
  if (*row) value = get_budget_.column_int(0);
  budgets_.emplace(scope, value);
  return value.value_or(0);
}

Status Book::add_budget(const std::string& scope, Nanos delta) {
  auto current = budget(scope);
  if (!current) return current.error();
  ++writes_;
  Nanos next = *current + delta;
  budgets_[scope] = next;
  dirty_budgets_[scope] = next;
  return {};
}

Status Book::flush_budgets() {
  for (const auto& [scope, amount] : dirty_budgets_) {
    put_budget_.bind(1, scope).bind(2, amount);
    Status st = put_budget_.run();
    if (!st.ok()) return st;
  }
  dirty_budgets_.clear();
  return {};
}

std::vector<std::string> Book::budget_scopes(const Row& row) const {
  std::vector<std::string> scopes;
  if (!row.run.empty()) scopes.push_back(run_scope(row.run));
  if (!row.agent.empty()) scopes.push_back(agent_day_scope(row.agent, row.agent_day));
  return scopes;
}

Result<std::optional<Receipt>> Book::load_receipt(std::int64_t id) {
  sql::ResetGuard guard(get_receipt_);
  get_receipt_.bind(1, id);
  auto row = get_receipt_.step();
  if (!row) return row.error();
  if (!*row) return std::optional<Receipt>();
  auto receipt = parse_receipt(get_receipt_.column_text(0));
  if (!receipt) return make_error(ErrorKind::storage, "stored receipt " + std::to_string(id) +
                                                          " is corrupt: " + receipt.error().message);
  return std::optional<Receipt>(std::move(*receipt));
}

Reservation Book::to_reservation(const Row& row, bool replayed) {
  Reservation r;
  r.id = row.id;
  r.state = row.state;
  r.provider = row.provider;
  r.run = row.run;
  r.hold = row.hold;
  r.cost = row.cost;
  for (const auto& part : row.funding) {
    if (is_allowance_account(part.account)) r.from_allowance += part.held;
    else r.from_usd += part.held;
  }
  r.replayed = replayed;
  return r;
}

}  // namespace perdiem::wallet
