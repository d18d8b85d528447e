// The wallet's side of metering tabs: a hold that takes what fits (ReserveRequest::
// at_least), a tab settled at its calls' sum with their receipts signed in one batch, and
// the Merkle proofs that let each receipt verify alone.
#include <algorithm>
#include <map>
#include <tuple>

#include <doctest/doctest.h>

#include "wallet/receipt_batch.hpp"
#include "wallet/receipts.hpp"
#include "wallet/sqlite.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

ReserveRequest tab_request(Nanos target, Nanos at_least, Budgets budgets = {}) {
  ReserveRequest r;
  r.provider = "venice";
  r.worst_case = target;
  r.at_least = at_least;
  r.budgets = std::move(budgets);
  return r;
}

TabCall tab_call(std::int64_t seq, Nanos cost, bool final = true) {
  TabCall call;
  call.seq = seq;
  call.cost = cost;
  call.final = final;
  call.time_ms = kDay0Ms + seq;
  call.record.model = "llama";
  call.record.step = seq + 1;
  call.record.usage = {100, 10};
  return call;
}

// For run "r": one tab of `alone` calls settled alone (its receipts stored without
// proofs) and two tabs of two calls settled together (one batch, stored with proofs).
void settle_alone_and_together(WalletFixture& f, int alone) {
  auto tab = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01")));
  REQUIRE(tab.ok());
  std::vector<TabCall> calls;
  for (int i = 0; i < alone; ++i) {
    calls.push_back(tab_call(i, usd("0.001")));
    calls.back().record.run = "r";
  }
  REQUIRE(f.wallet->settle_tab_async(*tab, calls).get().ok());
  std::vector<TabToSettle> together;
  for (int t = 0; t < 2; ++t) {
    auto next = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01")));
    REQUIRE(next.ok());
    together.push_back(TabToSettle{*next, {tab_call(0, usd("0.002")), tab_call(1, usd("0.003"))}});
    for (TabCall& call : together.back().calls) call.record.run = "r";
  }
  for (auto& settled : f.wallet->settle_tabs_async(together)) REQUIRE(settled.get().ok());
}

}  // namespace

TEST_CASE("at_least: a tab holds what the budgets and funds allow, never less") {
  WalletFixture f;
  f.fund_usd("1");
  Budgets budgets;
  budgets.run = "r";
  budgets.run_limit = usd("0.3");
  SUBCASE("capped by the run budget") {
    auto tab = f.wallet->reserve(tab_request(usd("0.5"), usd("0.01"), budgets));
    REQUIRE(tab.ok());
    CHECK(tab->hold == usd("0.3"));
  }
  SUBCASE("capped by the funds") {
    auto tab = f.wallet->reserve(tab_request(usd("5"), usd("0.01")));
    REQUIRE(tab.ok());
    CHECK(tab->hold == usd("1"));
  }
  SUBCASE("the whole target when it fits") {
    auto tab = f.wallet->reserve(tab_request(usd("0.2"), usd("0.01"), budgets));
    REQUIRE(tab.ok());
    CHECK(tab->hold == usd("0.2"));
  }
  SUBCASE("refused when not even at_least fits, naming it as needed") {
    (void)f.reserve(usd("0.295"), "venice", budgets);
    auto tab = f.wallet->reserve(tab_request(usd("0.5"), usd("0.01"), budgets));
    REQUIRE_FALSE(tab.ok());
    CHECK(tab.error().kind == ErrorKind::budget_exceeded);
    CHECK(tab.error().message.find("needed $0.01") != std::string::npos);
  }
  SUBCASE("the per-call limit applies to at_least, not to the tab") {
    budgets.per_call_limit = usd("0.02");
    CHECK(f.wallet->reserve(tab_request(usd("0.2"), usd("0.01"), budgets)).ok());
    CHECK(f.wallet->reserve(tab_request(usd("0.2"), usd("0.03"), budgets)).error().kind ==
          ErrorKind::budget_exceeded);
  }
  f.require_verified();
}

TEST_CASE("a tab settles at its calls' sum, with one batch-signed receipt per call") {
  WalletFixture f;
  f.fund_usd("1");
  Budgets budgets;
  budgets.run = "r";
  auto tab = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01"), budgets));
  REQUIRE(tab.ok());
  std::vector<TabCall> calls;
  for (int i = 0; i < 5; ++i) calls.push_back(tab_call(i, usd("0.002")));
  auto settled = f.wallet->settle_tab_async(*tab, calls).get();
  REQUIRE(settled.ok());
  CHECK(settled->cost == usd("0.01"));
  CHECK(settled->state == ReservationState::settled);
  CHECK(f.balance().reserved == 0);
  CHECK(f.wallet->spent("r").value() == usd("0.01"));
  auto receipts = f.wallet->receipts("r").value();
  REQUIRE(receipts.size() == 5);
  for (std::size_t i = 0; i < receipts.size(); ++i) {
    CHECK(receipts[i].id == tab_receipt_id(tab->id, static_cast<std::int64_t>(i)));
    CHECK(receipts[i].signature == receipts[0].signature);  // one signature for all
    CHECK(verify_receipt(receipts[i]).ok());
  }
  // Settling the same tab again charges nothing and stores no receipt twice.
  auto again = f.wallet->settle_tab_async(*tab, calls).get();
  REQUIRE(again.ok());
  CHECK(again->replayed);
  CHECK(f.wallet->receipts("r").value().size() == 5);
  CHECK(f.wallet->spent("r").value() == usd("0.01"));
  f.require_verified();
}

TEST_CASE("a tab holding an estimate is settled unreconciled, as a whole") {
  WalletFixture f;
  f.fund_usd("1");
  Budgets budgets;
  budgets.run = "r";
  auto tab = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01"), budgets));
  REQUIRE(tab.ok());
  auto settled =
      f.wallet->settle_tab_async(*tab, {tab_call(0, usd("0.002")), tab_call(1, usd("0.01"), false)})
          .get();
  REQUIRE(settled.ok());
  CHECK(settled->state == ReservationState::unreconciled);
  CHECK(f.wallet->unreconciled().value().size() == 1);
  auto receipts = f.wallet->receipts("r").value();
  REQUIRE(receipts.size() == 2);
  CHECK(receipts[0].final);
  CHECK_FALSE(receipts[1].final);
  f.require_verified();
}

TEST_CASE("tabs settled together share one signature, and each run's receipts verify alone") {
  WalletFixture f;
  f.fund_usd("1");
  std::vector<TabToSettle> tabs;
  for (const char* run : {"r1", "r2", "r3"}) {
    Budgets budgets;
    budgets.run = run;
    auto tab = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01"), budgets));
    REQUIRE(tab.ok());
    tabs.push_back(TabToSettle{*tab, {tab_call(0, usd("0.002")), tab_call(1, usd("0.003"))}});
  }
  TabToSettle refused = tabs[1];
  refused.calls[0].record.model = "line\nbreak";
  tabs[1] = refused;  // fails alone: the other two settle
  auto settled = f.wallet->settle_tabs_async(tabs);
  REQUIRE(settled.size() == 3);
  REQUIRE(settled[0].get().ok());
  CHECK(settled[1].get().error().kind == ErrorKind::invalid_argument);
  REQUIRE(settled[2].get().ok());
  auto first = f.wallet->receipts("r1").value();
  auto third = f.wallet->receipts("r3").value();
  REQUIRE(first.size() == 2);
  REQUIRE(third.size() == 2);
  CHECK(first[0].signature == third[1].signature);  // one signature for both tabs
  CHECK(first[0].batch->size == 4);
  for (const auto& receipt : first) CHECK(verify_receipt(receipt).ok());
  for (const auto& receipt : third) CHECK(verify_receipt(receipt).ok());
  CHECK(f.wallet->spent("r1").value() == usd("0.005"));
  CHECK(f.wallet->receipts("r2").value().empty());
  CHECK(f.balance().reserved == usd("0.1"));  // r2's tab is still open
  f.require_verified();

  SUBCASE("the audit finds a receipt altered inside a batch across tabs") {
    Receipt altered = third[1];
    REQUIRE(altered.model.find("llama") != std::string::npos);
    altered.model.replace(altered.model.find("llama"), 5, "llamb");
    f.close();
    CHECK(overwrite_tab_receipt(f.db_path, altered) == 1);
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK(report->problem.find("was altered") != std::string::npos);
  }
  SUBCASE("the audit finds a batch size changed on one receipt, its signature checked before") {
    // The size is part of what the batch signature covers.
    Receipt resized = third[1];
    resized.batch->size = 5;
    f.close();
    CHECK(overwrite_tab_receipt(f.db_path, resized) == 1);
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK(report->problem.find("does not fit the batch") != std::string::npos);
  }
}

TEST_CASE("a model id the receipt cannot carry refuses the batch and charges nothing yet") {
  WalletFixture f;
  f.fund_usd("1");
  auto tab = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01")));
  REQUIRE(tab.ok());
  TabCall bad = tab_call(0, usd("0.002"));
  bad.record.model = "line\nbreak";
  auto settled = f.wallet->settle_tab_async(*tab, {bad}).get();
  REQUIRE_FALSE(settled.ok());
  CHECK(settled.error().kind == ErrorKind::invalid_argument);
  CHECK(f.balance().reserved == usd("0.1"));  // still open: recovered at its hold if abandoned
}

TEST_CASE("Merkle proofs lead every leaf to the root, for every batch size") {
  for (std::uint32_t size = 1; size <= 17; ++size) {
    CAPTURE(size);
    std::vector<Hash32> leaves;
    for (std::uint32_t i = 0; i < size; ++i) leaves.push_back(keccak256(std::to_string(i)));
    const Hash32 root = merkle_root(leaves);
    for (std::uint32_t i = 0; i < size; ++i) {
      Hash32 reached{};
      REQUIRE(merkle_fold(leaves[i], i, size, merkle_proof(leaves, i), reached));
      CHECK(reached == root);
      // The wrong place, or a proof cut short, does not reach it.
      if (size > 1) {
        Hash32 elsewhere{};
        const std::uint32_t other = (i + 1) % size;
        if (merkle_fold(leaves[i], other, size, merkle_proof(leaves, i), elsewhere))
          CHECK(elsewhere != root);
        auto cut = merkle_proof(leaves, i);
        if (!cut.empty()) {
          cut.pop_back();
          CHECK_FALSE(merkle_fold(leaves[i], i, size, cut, elsewhere));
        }
      }
    }
  }
}

// wallet.spent(run) of a shared tab's receipts reads the index on (run, reservation,
// cost); a wallet.db written with the index on run alone gets it when next opened.
TEST_CASE("a shared tab's receipts count for their runs, before and after the index swap") {
  WalletFixture f;
  f.fund_usd("1");
  auto tab = f.wallet->reserve(tab_request(usd("0.1"), usd("0.01")));  // held under no run
  REQUIRE(tab.ok());
  std::vector<TabCall> calls;
  for (int i = 0; i < 6; ++i) {
    calls.push_back(tab_call(i, usd("0.001") * (i + 1)));
    calls.back().record.run = i % 2 == 0 ? "run-a" : "run-b";
  }
  REQUIRE(f.wallet->settle_tab_async(*tab, calls).get().ok());
  CHECK(f.wallet->spent("run-a").value() == usd("0.009"));  // 1 + 3 + 5 thousandths
  CHECK(f.wallet->spent("run-b").value() == usd("0.012"));  // 2 + 4 + 6
  CHECK(f.wallet->spent("run-c").value() == 0);
  f.close();
  {
    auto db = sql::Db::open(f.db_path, 1000);
    REQUIRE(db.ok());
    REQUIRE(db->exec("DROP INDEX tab_receipts_run_cost; "
                     "CREATE INDEX tab_receipts_run ON tab_receipts(run)")
                .ok());
  }
  f.open();
  auto db = sql::Db::open(f.db_path, 1000);
  REQUIRE(db.ok());
  auto indexes = db->prepare(
      "SELECT group_concat(name) FROM sqlite_master WHERE type = 'index' "
      "AND tbl_name = 'tab_receipts' AND sql IS NOT NULL");
  REQUIRE(indexes.ok());
  REQUIRE(indexes->step().value());
  CHECK(indexes->column_text(0) == "tab_receipts_run_cost");
  CHECK(f.wallet->spent("run-a").value() == usd("0.009"));
  CHECK(f.wallet->spent("run-b").value() == usd("0.012"));
  f.require_verified();
}

// Wallets written before batch version 2 hold version 1 batches. Rewriting a wallet's
// stored batches as version 1 (re-signed by its key, stored as that version stored them)
// gives such a wallet: it verifies, its receipts verify, and tampering still shows.
TEST_CASE("a wallet whose tabs were signed in version 1 batches still verifies") {
  WalletFixture f;
  f.fund_usd("1");
  settle_alone_and_together(f, 5);
  f.close();

  const auto rewrite_as_version_1 = [&](bool tamper) {
    auto db = sql::Db::open(f.db_path, 1000);
    REQUIRE(db.ok());
    auto read = db->prepare("SELECT reservation, seq, receipt FROM tab_receipts");
    REQUIRE(read.ok());
    // Each batch's receipts in their places, keyed by the batch's signature.
    std::map<Signature, std::vector<std::pair<std::pair<std::int64_t, std::int64_t>, Receipt>>>
        batches;
    for (;;) {
      auto row = read->step();
      REQUIRE(row.ok());
      if (!*row) break;
      auto receipt = read_stored_receipt(*read, 2);
      REQUIRE(receipt.ok());
      REQUIRE(receipt->batch->version == BatchVersion::v2);
      batches[receipt->signature].push_back({{read->column_int(0), read->column_int(1)}, *receipt});
    }
    REQUIRE(batches.size() == 2);
    auto write =
        db->prepare("UPDATE tab_receipts SET receipt = ? WHERE reservation = ? AND seq = ?");
    REQUIRE(write.ok());
    for (auto& [signature, members] : batches) {
      std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
        return a.second.batch->index < b.second.batch->index;
      });
      const bool with_proofs = !members.front().second.batch->proof.empty();
      std::vector<Receipt> receipts;
      for (auto& member : members) receipts.push_back(member.second);
      sign_receipt_batch(receipts, *f.signer, with_proofs, BatchVersion::v1);
      if (tamper) receipts.back().usage.output_tokens += 1;  // a field no column repeats
      for (std::size_t i = 0; i < receipts.size(); ++i) {
        const std::string json = receipt_to_json(receipts[i]);
        CHECK(json.find("\"version\"") == std::string::npos);
        write->bind(1, json).bind(2, members[i].first.first).bind(3, members[i].first.second);
        REQUIRE(write->run().ok());
      }
    }
  };

  SUBCASE("as written") {
    rewrite_as_version_1(/*tamper=*/false);
    f.open();
    f.require_verified();
    auto receipts = f.wallet->receipts("r").value();
    REQUIRE(receipts.size() == 9);
    for (const Receipt& r : receipts) {
      CAPTURE(r.id);
      CHECK(r.batch->version == BatchVersion::v1);
      CHECK(verify_receipt(r).ok());
    }
  }
  SUBCASE("with a receipt altered after signing") {
    rewrite_as_version_1(/*tamper=*/true);
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK_MESSAGE(report->problem.find("altered") != std::string::npos, report->problem);
  }
}

// Tab receipts are stored packed (stored_receipt.hpp); wallets written before kept their
// JSON. Both read back alike, side by side in one wallet, and the audit checks both.
TEST_CASE("tab receipts are stored packed, and receipts stored as JSON before still read") {
  WalletFixture f;
  f.fund_usd("1");
  settle_alone_and_together(f, 4);
  const std::vector<Receipt> before = f.wallet->receipts("r").value();
  REQUIRE(before.size() == 8);
  f.close();

  auto db = sql::Db::open(f.db_path, 1000);
  REQUIRE(db.ok());
  auto kinds = db->prepare("SELECT typeof(receipt), COUNT(*) FROM tab_receipts GROUP BY 1");
  REQUIRE(kinds.ok());
  REQUIRE(kinds->step().value());
  CHECK(kinds->column_text(0) == "blob");
  CHECK(kinds->column_int(1) == 8);
  CHECK_FALSE(kinds->step().value());

  // Every other receipt rewritten as the JSON the wallet stored before packing.
  auto read = db->prepare("SELECT reservation, seq, receipt FROM tab_receipts WHERE seq = 0");
  REQUIRE(read.ok());
  auto write = db->prepare("UPDATE tab_receipts SET receipt = ? WHERE reservation = ? AND seq = ?");
  REQUIRE(write.ok());
  std::vector<std::tuple<std::int64_t, std::int64_t, std::string>> as_json;
  while (read->step().value()) {
    auto receipt = read_stored_receipt(*read, 2);
    REQUIRE(receipt.ok());
    as_json.emplace_back(read->column_int(0), read->column_int(1), receipt_to_json(*receipt));
  }
  REQUIRE(as_json.size() == 3);
  for (const auto& [reservation, seq, json] : as_json) {
    write->bind(1, json).bind(2, reservation).bind(3, seq);
    REQUIRE(write->run().ok());
  }
  f.open();
  f.require_verified();
  const std::vector<Receipt> after = f.wallet->receipts("r").value();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    CAPTURE(after[i].id);
    CHECK(receipt_to_json(after[i]) == receipt_to_json(before[i]));
    CHECK(verify_receipt(after[i]).ok());
  }

  SUBCASE("a receipt claiming a batch of four billion is refused without allocating for it") {
    Receipt huge = after[0];  // of the tab settled alone: its batch is read whole
    REQUIRE(huge.batch);
    huge.batch->size = 0xffffffff;
    huge.batch->proof.clear();
    f.close();
    CHECK(overwrite_tab_receipt(f.db_path, huge) == 1);
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK_MESSAGE(report->problem.find("of a batch of 4294967295") != std::string::npos,
                  report->problem);
    auto receipts = f.wallet->receipts("r");
    REQUIRE(receipts.ok());
    CHECK(receipts->size() == before.size());
  }
  SUBCASE("a packed receipt cut short is reported as corrupt, by the audit and by reads") {
    f.close();
    REQUIRE(db->exec("UPDATE tab_receipts SET receipt = substr(receipt, 1, length(receipt) - 1) "
                     "WHERE seq = 1 AND typeof(receipt) = 'blob'")
                .ok());
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK_MESSAGE(
        report->problem.find("is corrupt: the packed receipt is cut short") != std::string::npos,
        report->problem);
    auto receipts = f.wallet->receipts("r");
    REQUIRE_FALSE(receipts.ok());
    CHECK(receipts.error().kind == ErrorKind::storage);
  }
}
