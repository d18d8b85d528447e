// Metering in memory: calls charged inside tabs against a real wallet.db. What each call
// is charged, what a tab settles at, what budgets allow, what a crash costs, and that
// every batched receipt verifies on its own.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "runtime/metering/call_hashes.hpp"
#include "runtime/metering/meter.hpp"
#include "wallet/receipt_batch.hpp"
#include "wallet/sqlite.hpp"
#include "wallet/wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet::testing;
using perdiem::metering::CallContext;
using perdiem::metering::Meter;
using perdiem::metering::MeterOptions;

namespace {

// Answers with fixed usage (or fails with fail_kind) and counts what it was sent.
class CountingProvider final : public providers::Provider {
 public:
  explicit CountingProvider(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request) override {
    calls.fetch_add(1);
    if (fail) return make_error(*fail, "upstream exploded", name_, true);
    providers::ChatResponse r;
    r.content = "ok";
    r.model = request.model;
    r.provider = name_;
    r.usage = usage;
    return r;
  }
  Result<providers::EmbedResponse> embed(const providers::EmbedRequest&) override {
    return make_error(ErrorKind::internal, "not used");
  }
  std::atomic<int> calls{0};
  std::optional<ErrorKind> fail;
  providers::Usage usage{20, 50};

 private:
  std::string name_;
};

providers::ChatRequest small_request() {
  providers::ChatRequest r;
  r.model = "llama";
  r.messages = {{"user", "hello"}};
  r.max_tokens = 100;
  return r;
}

wallet::PriceSheet venice_prices() {
  // $1 per million input tokens, $2 per million output, 1/10 cent per request.
  auto sheet = wallet::PriceSheet::from_json_text(
      R"({"prices":[{"provider":"venice","model":"llama","input":"1","output":"2","request":"0.001"}]})");
  REQUIRE(sheet.ok());
  return *sheet;
}

MeterOptions with_tabs(bool tabs = true) {
  MeterOptions o;
  o.is_free = [](std::string_view p) { return p == "sim"; };
  o.tabs = tabs;
  return o;
}

// small_request()'s worst case: (5 + 4 + 8 + 8) input tokens at $1/M, 100 output at $2/M,
// $0.001 per request.
constexpr wallet::Nanos kHold = 25 * 1000 + 100 * 2000 + 1'000'000;
// What usage {20, 50} costs.
constexpr wallet::Nanos kCost = 20 * 1000 + 50 * 2000 + 1'000'000;

CallContext call(const std::string& run, std::int64_t step, wallet::Budgets budgets = {}) {
  return CallContext{run, step, std::move(budgets)};
}

// A run with a budget of its own: its tabs are its own, not shared with other runs.
wallet::Budgets own_budget() {
  wallet::Budgets budgets;
  budgets.run_limit = usd("100");
  return budgets;
}

}  // namespace

TEST_CASE("calls in a tab are charged once each; closing settles the sum, releases the rest") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  constexpr int kCalls = 50;
  std::set<std::string> ids;
  for (int i = 1; i <= kCalls; ++i) {
    auto result = meter.chat(venice, small_request(), call("r", i, own_budget()));
    REQUIRE(result.ok());
    CHECK(result->cost == kCost);
    CHECK_FALSE(result->settlement.valid());  // nothing to wait for per call
    ids.insert(result->receipt_id);
  }
  CHECK(ids.size() == kCalls);  // each call names its own receipt at once
  // Until the tab closes, the wallet counts its hold: never less than was spent.
  CHECK(f.wallet->spent("r").value() >= kCalls * kCost);
  REQUIRE(meter.close_run("r").ok());

  CHECK(f.wallet->spent("r").value() == kCalls * kCost);
  CHECK(f.balance().reserved == 0);
  CHECK(f.balance().usd == usd("1") - kCalls * kCost);
  CHECK(f.wallet->unreconciled().value().empty());
  auto receipts = f.wallet->receipts("r");
  REQUIRE(receipts.ok());
  REQUIRE(receipts->size() == kCalls);
  wallet::Nanos total = 0;
  std::set<std::string> stored;
  // The closer hashed what the receipts commit to, exactly as the caller would have.
  providers::ChatResponse answer;
  answer.content = "ok";
  answer.model = "llama";
  answer.provider = "venice";
  for (const auto& r : *receipts) {
    CHECK(r.request_hash == metering::request_hash(small_request()));
    CHECK(r.response_hash == metering::response_hash(answer));
    CHECK(wallet::verify_receipt(r).ok());
    CHECK(r.batch.has_value());
    CHECK(r.final);
    CHECK(r.run == "r");
    CHECK(r.usage.output_tokens == 50);
    total += r.cost;
    stored.insert(r.id);
  }
  CHECK(total == kCalls * kCost);
  CHECK(stored == ids);
  // Far fewer durable reservations than calls: one per tab.
  auto history = f.wallet->history(0, 100000).value();
  std::set<std::int64_t> reservations;
  for (const auto& e : history)
    if (e.reservation != 0) reservations.insert(e.reservation);
  CHECK(reservations.size() < kCalls / 4);
  f.require_verified();

  // The run goes on after close_run: a new tab.
  REQUIRE(meter.chat(venice, small_request(), call("r", kCalls + 1, own_budget())).ok());
  REQUIRE(meter.close_run("r").ok());
  CHECK(f.wallet->spent("r").value() == (kCalls + 1) * kCost);
  f.require_verified();
}

TEST_CASE("runs that end together have their tabs signed as one batch, each run exact") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  const std::vector<std::string> runs = {"r1", "r2", "r3", "r4"};
  for (const auto& run : runs)
    for (int i = 1; i <= 3; ++i) REQUIRE(meter.chat(venice, small_request(), call(run, i)).ok());
  // As ScheduledRuns closes a batch: every run's tabs detached, then each awaited.
  for (const auto& run : runs) meter.begin_close_run(run);
  for (const auto& run : runs) REQUIRE(meter.end_close_run(run).ok());
  std::set<wallet::Signature> signatures;
  for (const auto& run : runs) {
    CHECK(f.wallet->spent(run).value() == 3 * kCost);
    auto receipts = f.wallet->receipts(run).value();
    REQUIRE(receipts.size() == 3);
    for (const auto& r : receipts) {
      CHECK(wallet::verify_receipt(r).ok());  // alone, with its stored proof
      signatures.insert(r.signature);
    }
  }
  CHECK(signatures.size() == 1);  // detached without waking the closer: taken together
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

// The tab a receipt was charged in: its id is "<tab>.<seq>".
std::string tab_of(const wallet::Receipt& receipt) {
  return receipt.id.substr(0, receipt.id.find('.'));
}

TEST_CASE("runs without a budget of their own share a tab; each run's receipts and spend exact") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  for (int i = 1; i <= 3; ++i)
    for (const char* run : {"a", "b", "c"})
      REQUIRE(meter.chat(venice, small_request(), call(run, i)).ok());
  // A run with a budget keeps a tab of its own.
  REQUIRE(meter.chat(venice, small_request(), call("x", 1, own_budget())).ok());
  // An open shared tab is held for no run: the funds are held, no run is charged yet.
  CHECK(f.wallet->spent("a").value() == 0);
  CHECK(f.balance().reserved >= 9 * kCost);

  REQUIRE(meter.close_run("a").ok());  // closes the shared tab, with b's and c's calls
  std::set<std::string> tabs;
  for (const char* run : {"a", "b", "c"}) {
    CAPTURE(run);
    CHECK(f.wallet->spent(run).value() == 3 * kCost);
    auto receipts = f.wallet->receipts(run).value();
    REQUIRE(receipts.size() == 3);
    for (const auto& r : receipts) {
      CHECK(r.run == run);
      CHECK(wallet::verify_receipt(r).ok());  // its proof rebuilt from other runs' receipts
      tabs.insert(tab_of(r));
    }
  }
  CHECK(tabs.size() == 1);  // nine calls of three runs: one durable reservation

  // b goes on in a new shared tab; x's tab was never part of it.
  REQUIRE(meter.chat(venice, small_request(), call("b", 4)).ok());
  REQUIRE(meter.close_run("b").ok());
  REQUIRE(meter.close_run("x").ok());
  CHECK(f.wallet->spent("b").value() == 4 * kCost);
  CHECK(f.wallet->spent("x").value() == kCost);
  const auto b = f.wallet->receipts("b").value();
  const auto x = f.wallet->receipts("x").value();
  REQUIRE(b.size() == 4);
  REQUIRE(x.size() == 1);
  CHECK(tab_of(b.back()) != *tabs.begin());
  CHECK(tab_of(x.front()) != *tabs.begin());
  CHECK(tab_of(x.front()) != tab_of(b.back()));
  REQUIRE(meter.close_run("c").ok());
  CHECK(f.balance().reserved == 0);
  CHECK(f.balance().usd == usd("1") - 11 * kCost);
  f.require_verified();
}

namespace {

// Answers "ok" with usage {20, 50}; a request whose last message is "wait" is held inside
// the provider until the test releases it.
class GatedProvider final : public providers::Provider {
 public:
  const std::string& name() const override { return name_; }
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request) override {
    if (request.messages.back().content == "wait") {
      entered.set_value();
      release.get_future().wait();
    }
    providers::ChatResponse r;
    r.content = "ok";
    r.model = request.model;
    r.provider = name_;
    r.usage = {20, 50};
    return r;
  }
  Result<providers::EmbedResponse> embed(const providers::EmbedRequest&) override {
    return make_error(ErrorKind::internal, "not used");
  }
  std::promise<void> entered, release;

 private:
  std::string name_ = "venice";
};

providers::ChatRequest held_request() {
  providers::ChatRequest held = small_request();
  held.messages.back().content = "wait";
  return held;
}

}  // namespace

TEST_CASE("a run's end does not wait for another run's call in flight in their shared tab") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  GatedProvider venice;
  REQUIRE(meter.chat(venice, small_request(), call("a", 1)).ok());
  std::string b_receipt;
  std::thread b([&] {
    auto answer = meter.chat(venice, held_request(), call("b", 1));
    REQUIRE(answer.ok());
    b_receipt = answer->receipt_id;
  });
  venice.entered.get_future().wait();  // b's call is in flight in the shared tab

  // a's end closes the tab now: b's call is handed over to a new one.
  REQUIRE(meter.close_run("a").ok());
  CHECK(f.wallet->spent("a").value() == kCost);  // durable and exact at once
  const auto a_receipts = f.wallet->receipts("a").value();
  REQUIRE(a_receipts.size() == 1);
  CHECK(wallet::verify_receipt(a_receipts.front()).ok());

  venice.release.set_value();
  b.join();
  REQUIRE(meter.close_run("b").ok());
  CHECK(f.wallet->spent("b").value() == kCost);
  const auto b_receipts = f.wallet->receipts("b").value();
  REQUIRE(b_receipts.size() == 1);
  CHECK(b_receipts.front().id == b_receipt);  // the id the call was answered with
  CHECK(tab_of(b_receipts.front()) != tab_of(a_receipts.front()));
  CHECK(wallet::verify_receipt(b_receipts.front()).ok());
  CHECK(f.balance().reserved == 0);
  CHECK(f.balance().usd == usd("1") - 2 * kCost);
  f.require_verified();
}

TEST_CASE("a run ending with its own call in flight waits for it, even in a shared tab") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  GatedProvider venice;
  REQUIRE(meter.chat(venice, small_request(), call("r", 1)).ok());
  std::thread r([&] { REQUIRE(meter.chat(venice, held_request(), call("r", 2)).ok()); });
  venice.entered.get_future().wait();
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    REQUIRE(meter.close_run("r").ok());
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(closed.load());  // handed over, its call would land where it never looks
  venice.release.set_value();
  r.join();
  closer.join();
  CHECK(f.wallet->spent("r").value() == 2 * kCost);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("a run whose call was handed over in flight waits for it at its end") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  GatedProvider venice;
  REQUIRE(meter.chat(venice, small_request(), call("a", 1)).ok());
  std::thread r([&] { REQUIRE(meter.chat(venice, held_request(), call("r", 1)).ok()); });
  venice.entered.get_future().wait();
  REQUIRE(meter.close_run("a").ok());  // hands r's call over to a new tab
  std::atomic<bool> closed{false};
  std::thread r_end([&] {
    REQUIRE(meter.close_run("r").ok());
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(closed.load());  // its call, in the successor, is not charged yet
  venice.release.set_value();
  r.join();
  r_end.join();
  CHECK(f.wallet->spent("r").value() == kCost);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("reading a run's spend does not wait for a tab that waits for another run's call") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  GatedProvider venice;
  REQUIRE(meter.chat(venice, small_request(), call("q", 1)).ok());
  std::thread r([&] { REQUIRE(meter.chat(venice, held_request(), call("r", 1)).ok()); });
  venice.entered.get_future().wait();
  // r ends with its own call in flight (as a cancelled run may): the shared tab, with
  // q's finished call in it, now waits for r's call.
  std::thread r_end([&] { REQUIRE(meter.close_run("r").ok()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // q reads what it spent, perhaps on the thread r's call must finish on: no wait.
  REQUIRE(meter.flush_run("q").ok());
  venice.release.set_value();
  r.join();
  r_end.join();
  REQUIRE(meter.close_run("q").ok());  // this one waits, and is exact
  CHECK(f.wallet->spent("q").value() == kCost);
  CHECK(f.wallet->spent("r").value() == kCost);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("near the end of the funds, reading a run's spend skips a busy shared tab, not its run") {
  WalletFixture f;
  // The first tab holds 16 worst cases; what is left cannot hold one more call, so the
  // tab cannot be handed over while another run's call is in flight.
  f.fund_usd("0.0202125");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  GatedProvider venice;
  REQUIRE(meter.chat(venice, small_request(), call("r", 1)).ok());
  std::thread q([&] { REQUIRE(meter.chat(venice, held_request(), call("q", 1)).ok()); });
  venice.entered.get_future().wait();
  REQUIRE(meter.flush_run("r").ok());        // returns: does not wait for q's call
  CHECK(f.wallet->spent("r").value() == 0);  // the tab stayed open: r's call counts later
  REQUIRE(meter.chat(venice, small_request(), call("r", 2)).ok());  // same tab
  venice.release.set_value();
  q.join();
  REQUIRE(meter.close_run("r").ok());  // still finds the tab it skipped, and closes it
  CHECK(f.wallet->spent("r").value() == 2 * kCost);
  REQUIRE(meter.close_run("q").ok());
  CHECK(f.wallet->spent("q").value() == kCost);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("a full tab hands its calls in flight to the next and closes at once") {
  WalletFixture f;
  f.fund_usd("1");
  MeterOptions options = with_tabs();
  options.tab.max_calls = 2;
  Meter meter(*f.wallet, venice_prices(), options);
  GatedProvider venice;
  REQUIRE(meter.chat(venice, small_request(), call("a", 1)).ok());
  std::thread b([&] { REQUIRE(meter.chat(venice, held_request(), call("b", 1)).ok()); });
  venice.entered.get_future().wait();
  // The tab is full: a's next call opens a new one, which takes over b's call.
  REQUIRE(meter.chat(venice, small_request(), call("a", 2)).ok());
  REQUIRE(meter.close_run("a").ok());  // does not wait for b's call
  CHECK(f.wallet->spent("a").value() == 2 * kCost);
  venice.release.set_value();
  b.join();
  REQUIRE(meter.close_run("b").ok());
  CHECK(f.wallet->spent("b").value() == kCost);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("a large request and answer are hashed at once, a small one by the closer: same hashes") {
  WalletFixture f;
  f.fund_usd("10");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  providers::ChatRequest large = small_request();
  large.messages.push_back({"user", std::string(40 * 1024, 'x')});
  REQUIRE(meter.chat(venice, large, call("r", 1)).ok());
  REQUIRE(meter.chat(venice, small_request(), call("r", 2)).ok());
  REQUIRE(meter.close_run("r").ok());
  auto receipts = f.wallet->receipts("r").value();
  REQUIRE(receipts.size() == 2);
  CHECK(receipts[0].request_hash == metering::request_hash(large));
  CHECK(receipts[1].request_hash == metering::request_hash(small_request()));
  CHECK(receipts[0].response_hash == receipts[1].response_hash);  // both answered "ok"
  CHECK(receipts[0].response_hash != wallet::Hash32{});
}

TEST_CASE("a budget that fits 3.5 calls allows exactly 3, with or without tabs") {
  std::string refusals[2];
  for (int tabs = 0; tabs < 2; ++tabs) {
    CAPTURE(tabs);
    WalletFixture f;
    f.fund_usd("1");
    Meter meter(*f.wallet, venice_prices(), with_tabs(tabs == 1));
    CountingProvider venice("venice");
    venice.usage = {25, 100};  // every call costs its worst case
    wallet::Budgets budgets;
    budgets.run_limit = kHold * 7 / 2;
    for (int i = 1; i <= 3; ++i) {
      auto result = meter.chat(venice, small_request(), call("r", i, budgets));
      REQUIRE(result.ok());
      CHECK(result->cost == kHold);
    }
    auto fourth = meter.chat(venice, small_request(), call("r", 4, budgets));
    REQUIRE_FALSE(fourth.ok());
    CHECK(fourth.error().kind == ErrorKind::budget_exceeded);
    refusals[tabs] = fourth.error().message;
    CHECK(venice.calls == 3);
    REQUIRE(meter.close_run("r").ok());
    CHECK(f.wallet->spent("r").value() == 3 * kHold);
    CHECK(f.wallet->receipts("r").value().size() == 3);
    f.require_verified();
  }
  // The same refusal, naming what was needed and what was available.
  CHECK(refusals[1] == refusals[0]);
  CHECK(refusals[1].find("needed") != std::string::npos);
  CHECK(refusals[1].find("available") != std::string::npos);
}

TEST_CASE("a per-call limit and the funds refuse in a tab as they do outside one") {
  WalletFixture f;
  f.fund_usd("0.002");  // one call's worst case, not two
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  venice.usage = {25, 100};
  wallet::Budgets budgets;
  budgets.per_call_limit = kHold - 1;
  auto over = meter.chat(venice, small_request(), call("r", 1, budgets));
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().kind == ErrorKind::budget_exceeded);
  CHECK(venice.calls == 0);

  REQUIRE(meter.chat(venice, small_request(), call("r", 2)).ok());
  auto broke = meter.chat(venice, small_request(), call("r", 3));
  REQUIRE_FALSE(broke.ok());
  CHECK(broke.error().kind == ErrorKind::insufficient_credits);
  CHECK(venice.calls == 1);
  REQUIRE(meter.close_run("r").ok());
  CHECK(f.balance().usd == usd("0.002") - kHold);
  f.require_verified();
}

TEST_CASE("failures in a tab: released ones cost nothing, possibly billed ones their hold") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  REQUIRE(meter.chat(venice, small_request(), call("r", 1)).ok());
  venice.fail = ErrorKind::provider;  // refused: nothing billed
  REQUIRE_FALSE(meter.chat(venice, small_request(), call("r", 2)).ok());
  venice.fail = ErrorKind::timeout;  // may have been billed: the hold, as an estimate
  providers::ChatCall timed_out;
  REQUIRE_FALSE(meter.chat(venice, small_request(), call("r", 3), timed_out).ok());
  CHECK(timed_out.charged_nanos == kHold);
  CHECK_FALSE(timed_out.charged_receipt.empty());
  // The released attempt may be made again; the charged ones may not.
  venice.fail.reset();
  REQUIRE(meter.chat(venice, small_request(), call("r", 2)).ok());
  auto replay = meter.chat(venice, small_request(), call("r", 1));
  REQUIRE_FALSE(replay.ok());
  CHECK(replay.error().kind == ErrorKind::invalid_argument);
  CHECK(replay.error().message == "this call (r:1:1) was already made");
  CHECK(venice.calls == 4);
  // Flushing the run's tabs (to read what it spent) keeps refusing replays.
  REQUIRE(meter.flush_run("r").ok());
  CHECK(f.wallet->spent("r").value() == 2 * kCost + kHold);
  REQUIRE_FALSE(meter.chat(venice, small_request(), call("r", 2)).ok());
  CHECK(venice.calls == 4);
  // The key is the run, the step and the attempt: another attempt at a step, or the same
  // step of another run, is a call of its own.
  CallContext retry = call("r", 1);
  retry.attempt = 2;
  REQUIRE(meter.chat(venice, small_request(), retry).ok());
  REQUIRE(meter.chat(venice, small_request(), call("other", 1)).ok());
  CHECK(venice.calls == 6);
  REQUIRE(meter.close_run("r").ok());
  REQUIRE(meter.close_run("other").ok());

  CHECK(f.wallet->spent("r").value() == 3 * kCost + kHold);
  CHECK(f.wallet->spent("other").value() == kCost);
  auto receipts = f.wallet->receipts("r").value();
  REQUIRE(receipts.size() == 4);
  int estimates = 0;
  for (const auto& r : receipts) {
    CHECK(wallet::verify_receipt(r).ok());
    if (!r.final) {
      ++estimates;
      CHECK(r.id == timed_out.charged_receipt);
    }
  }
  CHECK(estimates == 1);
  // A tab holding an estimate awaits reconciliation as a whole.
  CHECK(f.wallet->unreconciled().value().size() == 1);
  f.require_verified();
}

TEST_CASE("free calls in tabs still get batched receipts, with no funds at all") {
  WalletFixture f;  // nothing funded
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider sim("sim");
  for (int i = 1; i <= 10; ++i) {
    auto result = meter.chat(sim, small_request(), call("free", i));
    REQUIRE(result.ok());
    CHECK(result->cost == 0);
  }
  REQUIRE(meter.close_run("free").ok());
  auto receipts = f.wallet->receipts("free").value();
  REQUIRE(receipts.size() == 10);
  for (const auto& r : receipts) CHECK(wallet::verify_receipt(r).ok());
  CHECK(f.wallet->spent("free").value() == 0);
  f.require_verified();
}

TEST_CASE("every batched receipt verifies alone; a tampered one does not") {
  WalletFixture f;
  f.fund_usd("1");
  {
    Meter meter(*f.wallet, venice_prices(), with_tabs());
    CountingProvider venice("venice");
    for (int i = 1; i <= 7; ++i) REQUIRE(meter.chat(venice, small_request(), call("r", i)).ok());
    REQUIRE(meter.close_run("r").ok());
  }
  auto receipts = f.wallet->receipts("r").value();
  REQUIRE(receipts.size() == 7);
  for (const auto& r : receipts) {
    // The JSON form carries everything needed: it verifies after a round trip.
    auto parsed = wallet::parse_receipt(wallet::receipt_to_json(r));
    REQUIRE(parsed.ok());
    CHECK(wallet::verify_receipt(*parsed).ok());
  }
  const wallet::Receipt& victim = receipts[3];
  SUBCASE("cost") {
    wallet::Receipt t = victim;
    t.cost -= 1;
    CHECK_FALSE(wallet::verify_receipt(t).ok());
  }
  SUBCASE("proof") {
    wallet::Receipt t = victim;
    REQUIRE_FALSE(t.batch->proof.empty());
    t.batch->proof[0][5] ^= 1;
    CHECK_FALSE(wallet::verify_receipt(t).ok());
  }
  SUBCASE("index") {
    wallet::Receipt t = victim;
    t.batch->index = (t.batch->index + 1) % t.batch->size;
    CHECK_FALSE(wallet::verify_receipt(t).ok());
  }
  SUBCASE("another receipt's place") {
    wallet::Receipt t = victim;
    t.batch = receipts[4].batch;
    CHECK_FALSE(wallet::verify_receipt(t).ok());
  }
  SUBCASE("in wallet.db: verify() finds it") {
    wallet::Receipt t = victim;
    t.cost -= 1;
    f.close();
    CHECK(overwrite_tab_receipt(f.db_path, t) == 1);
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    // It names the receipt, or the tab whose batch no longer reaches its signed root.
    const std::string tab = "tab " + victim.id.substr(0, victim.id.find('.'));
    CHECK_MESSAGE((report->problem.find(victim.id) != std::string::npos ||
                   report->problem.find(tab) != std::string::npos),
                  report->problem);
  }
  SUBCASE("in wallet.db, consistently with its row: the batch root gives it away") {
    wallet::Receipt t = victim;
    t.usage.output_tokens += 1;  // a field no column repeats
    t.batch->proof.clear();      // stored as the wallet stores them
    f.close();
    CHECK(overwrite_tab_receipt(f.db_path, t) == 1);
    f.open();
    auto report = f.wallet->verify();
    REQUIRE(report.ok());
    CHECK_FALSE(report->ok);
    CHECK_MESSAGE(report->problem.find("altered") != std::string::npos, report->problem);
    // Read back, it no longer verifies on its own either.
    bool found = false;
    const std::vector<wallet::Receipt> stored = f.wallet->receipts("r").value();
    for (const auto& r : stored) {
      if (r.id != victim.id) continue;
      found = true;
      CHECK_FALSE(wallet::verify_receipt(r).ok());
    }
    CHECK(found);
  }
}

TEST_CASE("a crash with a tab open charges its hold, unreconciled, and the books balance") {
  // A run's own tab is charged to the run; a tab shared by runs to no run (which of its
  // runs made which call was in the memory that died).
  bool own = true;
  SUBCASE("the run's own tab") {
    own = true;
  }
  SUBCASE("a tab shared by runs") {
    own = false;
  }
  WalletFixture f;
  f.fund_usd("1");
  f.close();
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    base::ManualClock clock(f.clock.now_unix_ms());
    auto opened = wallet::Wallet::open(f.db_path, clock, f.options());
    if (!opened.ok()) ::_exit(2);
    Meter meter(**opened, venice_prices(), with_tabs());
    CountingProvider venice("venice");
    for (int i = 1; i <= 5; ++i)
      if (!meter.chat(venice, small_request(), call("r", i, own ? own_budget() : wallet::Budgets{}))
               .ok())
        ::_exit(3);
    char byte = 1;
    if (::write(fds[1], &byte, 1) != 1) ::_exit(4);
    ::_exit(0);  // no destructor runs: the tab is still open, as after a crash
  }
  ::close(fds[1]);
  char byte = 0;
  CHECK(::read(fds[0], &byte, 1) == 1);
  ::close(fds[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);

  f.open();  // recovers the dead process's tab
  auto unreconciled = f.wallet->unreconciled().value();
  REQUIRE(unreconciled.size() == 1);
  const wallet::Reservation& tab = unreconciled.front();
  CHECK(tab.cost == tab.hold);
  CHECK(tab.hold >= 5 * kCost);  // never below what was spent
  CHECK(tab.run == (own ? "r" : ""));
  CHECK(f.wallet->spent("r").value() == (own ? tab.hold : 0));
  CHECK(f.balance().reserved == 0);
  CHECK(f.balance().usd == usd("1") - tab.hold);
  CHECK(f.wallet->receipts("r").value().empty());  // lost with the process
  f.require_verified();
}

TEST_CASE("threads sharing one tab never overspend a budget, and each call is charged once") {
  WalletFixture f;
  f.fund_usd("10");
  Meter meter(*f.wallet, venice_prices(), with_tabs());
  CountingProvider venice("venice");
  venice.usage = {25, 100};  // each call costs its worst case
  constexpr int kThreads = 4, kPerThread = 100;

  SUBCASE("ample budget: every call goes through") {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i)
          CHECK(meter.chat(venice, small_request(), call("r", t * 1000 + i)).ok());
      });
    for (auto& thread : threads) thread.join();
    REQUIRE(meter.close_run("r").ok());
    CHECK(f.wallet->spent("r").value() == kThreads * kPerThread * kHold);
    auto receipts = f.wallet->receipts("r").value();
    CHECK(receipts.size() == kThreads * kPerThread);
    std::set<std::string> ids;
    for (const auto& r : receipts) ids.insert(r.id);
    CHECK(ids.size() == receipts.size());
  }
  SUBCASE("a budget for 50 calls: never more") {
    wallet::Budgets budgets;
    budgets.run_limit = 50 * kHold + kHold / 2;
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          auto result = meter.chat(venice, small_request(), call("r", t * 1000 + i, budgets));
          if (result.ok())
            ok.fetch_add(1);
          else
            CHECK(result.error().kind == ErrorKind::budget_exceeded);
        }
      });
    for (auto& thread : threads) thread.join();
    REQUIRE(meter.close_run("r").ok());
    CHECK(ok.load() <= 50);
    CHECK(ok.load() >= 40);  // refusals are conservative only while a full tab drains
    CHECK(venice.calls == ok.load());
    CHECK(f.wallet->spent("r").value() == ok.load() * kHold);
    CHECK(f.wallet->spent("r").value() <= *budgets.run_limit);
  }
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("the call hashes are keccak256 of the canonical JSON nlohmann::json dumps") {
  providers::ChatRequest request = small_request();
  request.messages.push_back({"assistant", "quote \" slash \\ tab \t bell \b feed \f nul " +
                                               std::string(1, '\0') + " \x1f caf\xc3\xa9"});
  SUBCASE("without temperature") {}
  SUBCASE("with temperature") {
    request.temperature = 0.7;
  }
  SUBCASE("without max_tokens") {
    request.max_tokens.reset();
  }
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : request.messages)
    messages.push_back({{"role", m.role}, {"content", m.content}});
  nlohmann::json doc = {{"model", request.model}, {"messages", messages}};
  if (request.max_tokens) doc["max_tokens"] = *request.max_tokens;
  if (request.temperature) doc["temperature"] = *request.temperature;
  CHECK(metering::request_hash(request) == wallet::keccak256(doc.dump()));

  providers::ChatResponse response;
  response.content = request.messages.back().content;
  response.model = "llama";
  response.provider = "venice";
  response.finish_reason = "stop";
  nlohmann::json answer = {{"content", response.content},
                           {"model", response.model},
                           {"provider", response.provider},
                           {"finish_reason", response.finish_reason}};
  CHECK(metering::response_hash(response) == wallet::keccak256(answer.dump()));
}
