#include "wallet/audit.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "wallet/book.hpp"
#include "wallet/credits.hpp"
#include "wallet/receipts.hpp"
#include "wallet/stored_receipt.hpp"

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

// A tab's receipts add up to what the tab was charged, and every one is signed by the
// wallet. A batch of one tab is stored without proofs: it must be whole, its root is
// recomputed from its receipts and its signature checked once. A batch across tabs
// (Wallet::settle_tabs_async) stores each receipt's proof: each must fold to its batch's
// root, whose signature is checked once per batch.
Result<VerifyReport> check_tab_receipts(sql::Db& db, VerifyReport report) {
  auto stmt = db.prepare(
      "SELECT t.reservation, t.seq, t.cost, t.receipt, r.cost, r.state FROM tab_receipts t "
      "LEFT JOIN reservations r ON r.id = t.reservation ORDER BY t.reservation, t.seq");
  if (!stmt) return stmt.error();
  struct Tab {
    std::int64_t id = 0;
    Nanos charged = 0, sum = 0;
    std::vector<Receipt> receipts;
  };
  // Batches across tabs whose signature was checked: everything the signed message says.
  std::set<std::tuple<std::string, Hash32, std::uint32_t, BatchVersion, Signature>> signed_batches;
  auto check_proven = [&](const Tab& tab, const std::string& name) -> std::optional<VerifyReport> {
    const Receipt& first = tab.receipts.front();
    std::set<std::uint32_t> places;
    for (const Receipt& r : tab.receipts) {
      // A tab's receipts were signed together: one batch, each in a place of its own.
      if (r.batch->root != first.batch->root || r.batch->size != first.batch->size ||
          r.batch->version != first.batch->version || r.signature != first.signature ||
          !(r.wallet == first.wallet) || !places.insert(r.batch->index).second)
        return failed(report, 0, "receipt " + r.id + " does not fit the batch of " + name);
      Hash32 root{};
      if (!merkle_fold(receipt_leaf(r, r.batch->version), r.batch->index, r.batch->size,
                       r.batch->proof, root) ||
          root != r.batch->root)
        return failed(report, 0, "receipt " + r.id + " of " + name +
                                     " was altered (its proof does not reach its batch root)");
    }
    const auto batch = std::make_tuple(first.wallet.to_string(), first.batch->root,
                                       first.batch->size, first.batch->version, first.signature);
    if (signed_batches.count(batch) != 0) return std::nullopt;
    if (!verify_message(
            first.wallet,
            batch_message(first.wallet, first.batch->root, first.batch->size, first.batch->version),
            first.signature))
      return failed(report, 0, "the receipts of " + name + " are not signed by their wallet");
    signed_batches.insert(batch);
    return std::nullopt;
  };
  auto check = [&](Tab& tab) -> std::optional<VerifyReport> {
    const std::string name = "tab " + std::to_string(tab.id);
    if (tab.sum != tab.charged)
      return failed(report, 0, "the receipts of " + name + " add up to " + format_usd(tab.sum) +
                                   ", but it was charged " + format_usd(tab.charged));
    const Receipt& first = tab.receipts.front();
    if (!first.batch->proof.empty()) return check_proven(tab, name);
    const std::uint32_t size = first.batch->size;
    // Counted before anything is sized by `size`: a stored receipt claiming a batch of
    // four billion must not make the audit allocate for them.
    if (tab.receipts.size() != size)
      return failed(report, 0,
                    name + " holds " + std::to_string(tab.receipts.size()) +
                        " receipts of a batch of " + std::to_string(size));
    std::vector<Hash32> leaves(size);
    std::vector<bool> seen(size, false);
    for (const Receipt& r : tab.receipts) {
      if (r.batch->root != first.batch->root || r.batch->size != size ||
          r.batch->version != first.batch->version || r.batch->index >= size ||
          seen[r.batch->index] || r.signature != first.signature || !(r.wallet == first.wallet))
        return failed(report, 0, "receipt " + r.id + " does not fit the batch of " + name);
      seen[r.batch->index] = true;
      leaves[r.batch->index] = receipt_leaf(r, r.batch->version);
    }
    if (merkle_root(std::move(leaves)) != first.batch->root)
      return failed(report, 0, "a receipt of " + name + " was altered (its batch root differs)");
    if (!verify_message(first.wallet,
                        batch_message(first.wallet, first.batch->root, size, first.batch->version),
                        first.signature))
      return failed(report, 0, "the receipts of " + name + " are not signed by their wallet");
    return std::nullopt;
  };
  Tab tab;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    const std::int64_t id = stmt->column_int(0);
    if (id != tab.id) {
      if (tab.id != 0)
        if (auto bad = check(tab)) return *bad;
      tab = Tab{};
      tab.id = id;
      tab.charged = stmt->column_int(4);
      const std::string state = stmt->column_text(5);
      if (state != "settled" && state != "unreconciled")
        return failed(report, 0, "tab " + std::to_string(id) + " has receipts but is " +
                                     (state.empty() ? std::string("missing") : state));
    }
    const std::string id_text = tab_receipt_id(id, stmt->column_int(1));
    auto receipt = read_stored_receipt(*stmt, 3);
    if (!receipt) return failed(report, 0, "receipt " + id_text + " is corrupt: " +
                                               receipt.error().message);
    if (receipt->id != id_text || receipt->cost != stmt->column_int(2) || !receipt->batch)
      return failed(report, 0, "receipt " + id_text + " does not match its row");
    tab.sum += receipt->cost;
    tab.receipts.push_back(std::move(*receipt));
  }
  if (tab.id != 0)
    if (auto bad = check(tab)) return *bad;
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
