#include "wallet/audit.hpp"

#include <map>
#include <set>

#include "wallet/book.hpp"
#include "wallet/credits.hpp"
#include "wallet/receipts.hpp"

namespace perdiem::wallet {
namespace {

VerifyReport failed(VerifyReport report, std::int64_t seq, std::string problem) {
  report.ok = false;
  report.first_bad_seq = seq;
  report.problem = std::move(problem);
  return report;
}

Result<VerifyReport> check_reservations(sql::Db& db, VerifyReport report) {
  // One pass over the ledger's reservation entries, then one over the reservations.
  struct Sums {
    Nanos spent = 0, buckets = 0;
    std::int64_t first = 0;
  };
  std::map<std::int64_t, Sums> sums;
  auto entries = db.prepare(
      "SELECT reservation, SUM(CASE WHEN account = 'spent' THEN amount ELSE 0 END), "
      "SUM(CASE WHEN account != 'spent' THEN amount ELSE 0 END), MIN(seq) "
      "FROM ledger WHERE reservation != 0 GROUP BY reservation");
  if (!entries) return entries.error();
  for (;;) {
    auto row = entries->step();
    if (!row) return row.error();
    if (!*row) break;
    sums[entries->column_int(0)] =
        Sums{entries->column_int(1), entries->column_int(2), entries->column_int(3)};
  }
  auto stmt = db.prepare("SELECT id, state, hold, cost FROM reservations ORDER BY id");
  if (!stmt) return stmt.error();
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    std::int64_t id = stmt->column_int(0);
    std::string state = stmt->column_text(1);
    Nanos hold = stmt->column_int(2), cost = stmt->column_int(3);
    Sums have = sums.count(id) ? sums[id] : Sums{};
    Nanos want_spent = 0, want_buckets = 0;
    if (state == "open") {
      want_buckets = -hold;
    } else if (state == "settled" || state == "unreconciled") {
      want_spent = cost;
      want_buckets = -cost;
    } else if (state != "released") {
      return failed(report, have.first,
                    "reservation " + std::to_string(id) + " has unknown state " + state);
    }
    if (have.spent != want_spent || have.buckets != want_buckets)
      return failed(report, have.first,
                    "reservation " + std::to_string(id) + " (" + state + ", hold " +
                        format_usd(hold) + ", cost " + format_usd(cost) +
                        ") disagrees with its ledger entries (spent " + format_usd(have.spent) +
                        ", balances " + format_usd(have.buckets) + ")");
  }
  return report;
}

Result<VerifyReport> check_budgets(sql::Db& db, VerifyReport report) {
  std::map<std::string, Nanos> expected;
  auto stmt = db.prepare(
      "SELECT run, agent, agent_day, CASE state WHEN 'open' THEN hold WHEN 'released' THEN 0 "
      "ELSE cost END FROM reservations");
  if (!stmt) return stmt.error();
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    std::string run = stmt->column_text(0), agent = stmt->column_text(1);
    Nanos amount = stmt->column_int(3);
    if (!run.empty()) expected[run_scope(run)] += amount;
    if (!agent.empty()) expected[agent_day_scope(agent, stmt->column_text(2))] += amount;
  }
  std::map<std::string, Nanos> stored;
  auto spend = db.prepare("SELECT scope, amount FROM budget_spend");
  if (!spend) return spend.error();
  for (;;) {
    auto row = spend->step();
    if (!row) return row.error();
    if (!*row) break;
    stored[spend->column_text(0)] = spend->column_int(1);
  }
  for (const auto& [scope, amount] : expected) {
    Nanos have = stored.count(scope) ? stored[scope] : 0;
    if (have != amount)
      return failed(report, 0, "budget " + scope + " records " + format_usd(have) +
                                   " but its reservations add up to " + format_usd(amount));
  }
  return report;
}

// Every receipt of a tab is signed (its batch's signature, checked once per batch), and
// a tab's receipts add up to what the tab was charged.
Result<VerifyReport> check_tab_receipts(sql::Db& db, VerifyReport report) {
  auto stmt = db.prepare(
      "SELECT t.reservation, t.seq, t.cost, t.receipt, r.cost, r.state FROM tab_receipts t "
      "LEFT JOIN reservations r ON r.id = t.reservation ORDER BY t.reservation, t.seq");
  if (!stmt) return stmt.error();
  std::set<std::pair<Hash32, Signature>> signed_batches;
  std::int64_t tab = 0;
  Nanos sum = 0, charged = 0;
  auto tab_adds_up = [&]() { return tab == 0 || sum == charged; };
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::int64_t id = stmt->column_int(0);
    if (id != tab) {
      if (!tab_adds_up()) break;
      tab = id;
      sum = 0;
      charged = stmt->column_int(4);
      const std::string state = stmt->column_text(5);
      if (state != "settled" && state != "unreconciled")
        return failed(report, 0, "tab " + std::to_string(id) + " has receipts but is " +
                                     (state.empty() ? std::string("missing") : state));
    }
    const std::string what = "receipt " + tab_receipt_id(id, stmt->column_int(1));
    auto receipt = parse_receipt(stmt->column_text(3));
    if (!receipt) return failed(report, 0, what + " is corrupt: " + receipt.error().message);
    if (receipt->id != tab_receipt_id(id, stmt->column_int(1)) ||
        receipt->cost != stmt->column_int(2) || !receipt->batch)
      return failed(report, 0, what + " does not match its row");
    Hash32 root{};
    if (!merkle_fold(receipt_leaf(*receipt), receipt->batch->index, receipt->batch->size,
                     receipt->batch->proof, root) ||
        root != receipt->batch->root)
      return failed(report, 0, what + " is not part of the batch it names (altered)");
    if (signed_batches.insert({root, receipt->signature}).second &&
        !verify_message(receipt->wallet, batch_message(receipt->wallet, root, receipt->batch->size),
                        receipt->signature))
      return failed(report, 0, what + "'s batch is not signed by its wallet (altered)");
    sum += receipt->cost;
  }
  if (!tab_adds_up())
    return failed(report, 0, "the receipts of tab " + std::to_string(tab) + " add up to " +
                                 format_usd(sum) + ", but it was charged " + format_usd(charged));
  return report;
}

Result<VerifyReport> check_stakes(sql::Db& db, VerifyReport report) {
  auto stmt = db.prepare(
      "SELECT g.id, g.amount, g.revoked_ms, COALESCE(b.amount, 0) FROM grants g "
      "LEFT JOIN balances b ON b.account = 'stake:' || g.id WHERE g.kind = 'stake'");
  if (!stmt) return stmt.error();
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    Nanos want = stmt->column_int(2) != 0 ? 0 : stmt->column_int(1);
    if (stmt->column_int(3) != want)
      return failed(report, 0, "stake of grant " + std::to_string(stmt->column_int(0)) +
                                   " is " + format_usd(stmt->column_int(3)) + ", expected " +
                                   format_usd(want));
  }
  return report;
}

}  // namespace

Result<VerifyReport> verify_wallet(sql::Db& db) {
  Status st = db.exec("BEGIN");
  if (!st.ok()) return st.error();
  struct EndRead {
    sql::Db& db;
    ~EndRead() { (void)db.exec("COMMIT"); }
  } end_read{db};
  auto report = verify_ledger(db);
  if (!report || !report->ok) return report;
  report = check_reservations(db, *report);
  if (!report || !report->ok) return report;
  report = check_budgets(db, *report);
  if (!report || !report->ok) return report;
  report = check_tab_receipts(db, *report);
  if (!report || !report->ok) return report;
  return check_stakes(db, *report);
}

}  // namespace perdiem::wallet
