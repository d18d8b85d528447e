#include "wallet/ledger.hpp"

#include <sodium.h>

#include <cstring>

#include "base/json_plain.hpp"

namespace perdiem::wallet {
namespace {

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}
void put_bytes(std::string& out, std::string_view bytes) {
  put_u64(out, bytes.size());
  out.append(bytes);
}

Hash32 to_hash(std::span<const std::uint8_t> blob) {
  Hash32 h{};
  if (blob.size() == h.size()) std::memcpy(h.data(), blob.data(), h.size());
  return h;
}

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ledger(
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  account TEXT NOT NULL,
  amount INTEGER NOT NULL,
  reservation INTEGER NOT NULL,
  refs TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL);
CREATE TRIGGER IF NOT EXISTS ledger_no_update BEFORE UPDATE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the wallet ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS ledger_no_delete BEFORE DELETE ON ledger
  BEGIN SELECT RAISE(ABORT, 'the wallet ledger is append-only'); END;
CREATE TABLE IF NOT EXISTS balances(
  account TEXT PRIMARY KEY,
  amount INTEGER NOT NULL) WITHOUT ROWID;
)sql";

}  // namespace

Hash32 entry_hash(const LedgerEntry& e) {
  std::string buf = "perdiem-ledger-v1";
  buf.push_back('\0');
  put_u64(buf, static_cast<std::uint64_t>(e.seq));
  put_u64(buf, static_cast<std::uint64_t>(e.time_ms));
  put_bytes(buf, e.kind);
  put_bytes(buf, e.account);
  put_u64(buf, static_cast<std::uint64_t>(e.amount));
  put_u64(buf, static_cast<std::uint64_t>(e.reservation));
  put_bytes(buf, e.refs);
  buf.append(reinterpret_cast<const char*>(e.prev_hash.data()), e.prev_hash.size());
  Hash32 out{};
  crypto_generichash(out.data(), out.size(), reinterpret_cast<const unsigned char*>(buf.data()),
                     buf.size(), nullptr, 0);
  return out;
}

Status create_ledger_schema(sql::Db& db) { return db.exec(kSchema); }

Result<LedgerWriter> LedgerWriter::create(sql::Db& db) {
  LedgerWriter w;
  auto head = db.prepare("SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1");
  if (!head) return head.error();
  auto insert = db.prepare(
      "INSERT INTO ledger(seq, time_ms, kind, account, amount, reservation, refs, prev_hash, "
      "hash) VALUES(?,?,?,?,?,?,?,?,?)");
  if (!insert) return insert.error();
  auto get = db.prepare("SELECT amount FROM balances WHERE account = ?");
  if (!get) return get.error();
  auto put = db.prepare(
      "INSERT INTO balances(account, amount) VALUES(?, ?) "
      "ON CONFLICT(account) DO UPDATE SET amount = excluded.amount");
  if (!put) return put.error();
  w.head_ = std::move(*head);
  w.insert_ = std::move(*insert);
  w.get_balance_ = std::move(*get);
  w.put_balance_ = std::move(*put);
  return w;
}

Status LedgerWriter::begin(bool keep_cache) {
  // Accounts touched are few (usd, spent, a day's buckets); the bound only guards a
  // long-lived writer against growing without limit across days.
  if (keep_cache && head_known_ && dirty_.empty() && balances_.size() < 1024) return {};
  discard();
  sql::ResetGuard guard(head_);
  auto row = head_.step();
  if (!row) return row.error();
  if (*row) {
    seq_ = head_.column_int(0);
    head_hash_ = to_hash(head_.column_blob(1));
  }
  head_known_ = true;
  return {};
}

void LedgerWriter::discard() {
  head_known_ = false;
  seq_ = 0;
  head_hash_ = Hash32{};
  balances_.clear();
  dirty_.clear();
}

Result<bool> LedgerWriter::exists(const std::string& account) {
  auto it = balances_.find(account);
  if (it == balances_.end()) {
    auto b = balance(account);
    if (!b) return b.error();
    it = balances_.find(account);
  }
  return it->second.has_value();
}

Result<Nanos> LedgerWriter::balance(const std::string& account) {
  auto it = balances_.find(account);
  if (it != balances_.end()) return it->second.value_or(0);
  sql::ResetGuard guard(get_balance_);
  get_balance_.bind(1, account);
  auto row = get_balance_.step();
  if (!row) return row.error();
  std::optional<Nanos> value;
  if (*row) value = get_balance_.column_int(0);
  balances_.emplace(account, value);
  return value.value_or(0);
}

Result<std::int64_t> LedgerWriter::append(std::string_view kind, const std::string& account,
                                          Nanos amount, std::int64_t reservation,
                                          std::string refs, std::int64_t time_ms) {
  auto current = balance(account);
  if (!current) return current.error();
  auto next = checked_add(*current, amount);
  if (!next)
    return make_error(ErrorKind::invalid_argument, "balance of " + account + " would overflow");

  LedgerEntry e;
  e.seq = seq_ + 1;
  e.time_ms = time_ms;
  e.kind = std::string(kind);
  e.account = account;
  e.amount = amount;
  e.reservation = reservation;
  e.refs = std::move(refs);
  e.prev_hash = head_hash_;
  e.hash = entry_hash(e);

  insert_.bind(1, e.seq).bind(2, e.time_ms).bind(3, e.kind).bind(4, e.account);
  insert_.bind(5, e.amount).bind(6, e.reservation).bind(7, e.refs);
  insert_.bind_blob(8, e.prev_hash).bind_blob(9, e.hash);
  Status st = insert_.run();
  if (!st.ok()) return st.error();

  seq_ = e.seq;
  head_hash_ = e.hash;
  balances_[account] = *next;
  dirty_[account] = *next;
  return e.seq;
}

Status LedgerWriter::flush() {
  for (const auto& [account, amount] : dirty_) {
    put_balance_.bind(1, account).bind(2, amount);
    Status st = put_balance_.run();
    if (!st.ok()) return st;
  }
  dirty_.clear();
  return {};
}

Result<std::vector<LedgerEntry>> read_ledger(sql::Db& db, std::int64_t after_seq,
                                             std::int64_t limit) {
  auto stmt = db.prepare(
      "SELECT seq, time_ms, kind, account, amount, reservation, refs, prev_hash, hash "
      "FROM ledger WHERE seq > ? ORDER BY seq LIMIT ?");
  if (!stmt) return stmt.error();
  stmt->bind(1, after_seq).bind(2, limit);
  std::vector<LedgerEntry> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    LedgerEntry e;
    e.seq = stmt->column_int(0);
    e.time_ms = stmt->column_int(1);
    e.kind = stmt->column_text(2);
    e.account = stmt->column_text(3);
    e.amount = stmt->column_int(4);
    e.reservation = stmt->column_int(5);
    e.refs = stmt->column_text(6);
    e.prev_hash = to_hash(stmt->column_blob(7));
    e.hash = to_hash(stmt->column_blob(8));
    out.push_back(std::move(e));
  }
  return out;
}

Result<VerifyReport> verify_ledger(sql::Db& db) {
  VerifyReport report;
  auto fail = [&](std::int64_t seq, std::string problem) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.problem = std::move(problem);
    return report;
  };
  std::map<std::string, Nanos, std::less<>> sums;
  Hash32 prev{};
  std::int64_t expected_seq = 1;
  std::int64_t after = 0;
  for (;;) {
    auto batch = read_ledger(db, after, 4096);
    if (!batch) return batch.error();
    if (batch->empty()) break;
    for (const LedgerEntry& e : *batch) {
      std::string name = "entry " + std::to_string(e.seq) + " (" + e.kind + " " + e.account + ")";
      if (e.seq != expected_seq)
        return fail(expected_seq, "entry " + std::to_string(expected_seq) +
                                      " is missing (next is " + std::to_string(e.seq) + ")");
      if (e.prev_hash != prev)
        return fail(e.seq, name + ": prev_hash does not match the hash of the entry before");
      if (entry_hash(e) != e.hash)
        return fail(e.seq, name + ": hash does not match its contents (altered)");
      auto next = checked_add(sums[e.account], e.amount);
      if (!next) return fail(e.seq, name + ": balance overflows");
      sums[e.account] = *next;
      prev = e.hash;
      ++expected_seq;
      ++report.entries;
      after = e.seq;
    }
  }

  auto stmt = db.prepare("SELECT account, amount FROM balances ORDER BY account");
  if (!stmt) return stmt.error();
  std::map<std::string, Nanos, std::less<>> stored;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    stored[stmt->column_text(0)] = stmt->column_int(1);
  }
  for (const auto& [account, sum] : sums) {
    auto it = stored.find(account);
    Nanos have = it == stored.end() ? 0 : it->second;
    if (have != sum)
      return fail(0, "balance of " + account + " is " + format_usd(have) +
                         " but the ledger sums to " + format_usd(sum));
  }
  for (const auto& [account, amount] : stored)
    if (!sums.count(account))
      return fail(0, "balance of " + account + " (" + format_usd(amount) +
                         ") has no ledger entries");
  return report;
}

void RefsBuilder::key(std::string_view name) {
  out_ += out_.empty() ? "{" : ",";
  append_json_quoted(out_, name);
  out_ += ':';
}

RefsBuilder& RefsBuilder::add(std::string_view name, std::string_view value) {
  key(name);
  append_json_quoted(out_, value);
  return *this;
}

RefsBuilder& RefsBuilder::add(std::string_view name, std::int64_t value) {
  key(name);
  out_ += std::to_string(value);
  return *this;
}

void append_json_quoted(std::string& out, std::string_view text) {
  out += '"';
  base::append_json_escaped(out, text, /*ascii_only=*/false, base::ControlEscapes::ledger);
  out += '"';
}

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  append_json_quoted(out, text);
  return out;
}

}  // namespace perdiem::wallet
