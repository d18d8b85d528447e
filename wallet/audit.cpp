#include "wallet/audit.hpp"

#include <map>

#include "wallet/book.hpp"
#include "wallet/credits.hpp"

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
  return check_stakes(db, *report);
}

}  // namespace perdiem::wallet
