// The meter against a real wallet.db and a scripted provider: what is reserved, what is
// charged, what is released, and that a refused call is never sent.
#include <doctest/doctest.h>

#include <atomic>

#include "runtime/metering/call_hashes.hpp"
#include "runtime/metering/meter.hpp"
#include "wallet/wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet::testing;
using perdiem::metering::CallContext;
using perdiem::metering::Meter;
using perdiem::metering::MeterOptions;

namespace {

// Answers with fixed usage, or fails, and counts what it was sent.
class ScriptedProvider final : public providers::Provider {
 public:
  explicit ScriptedProvider(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request) override {
    ++calls;
    last_request = request;
    if (fail) return make_error(fail_kind, "upstream exploded", name_, true);
    providers::ChatResponse r;
    r.content = "ok";
    r.model = request.model;
    r.provider = name_;
    r.usage = usage;
    return r;
  }
  Result<providers::EmbedResponse> embed(const providers::EmbedRequest& request) override {
    ++calls;
    if (fail) return make_error(fail_kind, "upstream exploded", name_, true);
    providers::EmbedResponse r;
    r.vectors.assign(request.inputs.size(), std::vector<float>{0.6f, 0.8f});
    r.model = request.model;
    r.provider = name_;
    r.usage.input_tokens = usage.input_tokens;
    return r;
  }
  int calls = 0;
  bool fail = false;
  ErrorKind fail_kind = ErrorKind::provider;
  providers::Usage usage{1000, 500};
  providers::ChatRequest last_request;

 private:
  std::string name_;
};

providers::ChatRequest small_request(std::optional<int> max_tokens = 100) {
  providers::ChatRequest r;
  r.model = "llama";
  r.messages = {{"user", "hello"}};
  r.max_tokens = max_tokens;
  return r;
}

wallet::PriceSheet venice_prices() {
  // $1 per million input tokens, $2 per million output, 1/10 cent per request.
  auto sheet = wallet::PriceSheet::from_json_text(
      R"({"prices":[{"provider":"venice","model":"llama","input":"1","output":"2","request":"0.001"}]})");
  REQUIRE(sheet.ok());
  return *sheet;
}

MeterOptions free_sim() {
  MeterOptions o;
  o.is_free = [](std::string_view p) { return p == "sim"; };
  return o;
}

}  // namespace

TEST_CASE("a call is reserved at its worst case and settled at its real cost") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");

  auto quote = meter.quote("venice", small_request());
  REQUIRE(quote.ok());
  // (5 + 4 + 8 + 8) input tokens at $1/M + 100 output at $2/M + $0.001
  CHECK(*quote == 25 * 1000 + 100 * 2000 + 1'000'000);

  auto result = meter.chat(venice, small_request(), CallContext{"run1", 1, {}});
  REQUIRE(result.ok());
  // 1000 input at $1/M + 500 output at $2/M + $0.001 = $0.003
  CHECK(result->cost == 3'000'000);
  CHECK_FALSE(result->receipt_id.empty());
  auto balance = f.balance();
  CHECK(balance.usd == usd("1") - 3'000'000);
  CHECK(balance.reserved == 0);
  CHECK(f.wallet->spent("run1").value() == 3'000'000);
  f.require_verified();
}

TEST_CASE("max_tokens is always sent, so the reservation bounds the bill") {
  WalletFixture f;
  f.fund_usd("1");
  MeterOptions options = free_sim();
  options.default_max_tokens = 256;
  Meter meter(*f.wallet, venice_prices(), options);
  ScriptedProvider venice("venice");
  REQUIRE(meter.chat(venice, small_request(std::nullopt), CallContext{"r", 1, {}}).ok());
  REQUIRE(venice.last_request.max_tokens.has_value());
  CHECK(*venice.last_request.max_tokens == 256);
}

TEST_CASE("a refused reservation sends nothing and says what was needed") {
  WalletFixture f;  // no funds at all
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == ErrorKind::insufficient_credits);
  CHECK(venice.calls == 0);
}

TEST_CASE("a run budget stops the call that would cross it") {
  WalletFixture f;
  f.fund_usd("10");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  wallet::Budgets budgets;
  budgets.run_limit = 2'500'000;  // room for the first hold (1.225 m) but not a second
  REQUIRE(meter.chat(venice, small_request(), CallContext{"r", 1, budgets}).ok());
  auto second = meter.chat(venice, small_request(), CallContext{"r", 2, budgets});
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().kind == ErrorKind::budget_exceeded);
  CHECK(venice.calls == 1);
}

TEST_CASE("a failed call releases its hold and charges nothing") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  venice.fail = true;
  auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == ErrorKind::provider);
  CHECK(f.balance().usd == usd("1"));
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("free providers cost nothing but still leave a receipt; unknown prices refuse") {
  WalletFixture f;
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider sim("sim");
  auto free_call = meter.chat(sim, small_request(), CallContext{"r", 1, {}});
  REQUIRE(free_call.ok());
  CHECK(free_call->cost == 0);
  CHECK_FALSE(free_call->receipt_id.empty());

  ScriptedProvider groq("groq");
  auto unknown = meter.chat(groq, small_request(), CallContext{"r", 2, {}});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == ErrorKind::config);
  CHECK(unknown.error().message.find("config.json") != std::string::npos);
  CHECK(groq.calls == 0);
}

TEST_CASE("the allowance pays before USD") {
  WalletFixture f;
  f.fund_usd("1");
  f.stake("1", {"venice"});
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  venice.usage = {10, 50};  // within the reserved worst case: 10 x $1/M + 50 x $2/M + $0.001
  REQUIRE(meter.chat(venice, small_request(), CallContext{"r", 1, {}}).ok());
  auto balance = f.balance();
  CHECK(balance.usd == usd("1"));
  CHECK(balance.allowance == usd("1") - 1'110'000);

  SUBCASE("a provider billing beyond the hold is charged, the overrun from USD") {
    venice.usage = {1000, 500};  // $0.003, more than the 1.225 m reserved
    REQUIRE(meter.chat(venice, small_request(), CallContext{"r", 2, {}}).ok());
    auto after = f.balance();
    CHECK(after.allowance == balance.allowance - 1'225'000);
    CHECK(after.usd == usd("1") - (3'000'000 - 1'225'000));
    f.require_verified();
  }
}

TEST_CASE("a call that may have been billed is charged its hold, for reconciliation") {
  for (ErrorKind kind : {ErrorKind::timeout, ErrorKind::bad_response}) {
    CAPTURE(kind);
    WalletFixture f;
    f.fund_usd("1");
    Meter meter(*f.wallet, venice_prices(), free_sim());
    ScriptedProvider venice("venice");
    venice.fail = true;
    venice.fail_kind = kind;
    auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().kind == kind);
    CHECK(f.balance().usd == usd("1") - 1'225'000);  // the whole worst case
    CHECK(f.wallet->unreconciled().value().size() == 1);
    f.require_verified();
  }
}

TEST_CASE("an answer without usage is charged its hold, not the per-request price alone") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  venice.usage = {0, 0};
  auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}});
  REQUIRE(result.ok());
  CHECK(result->cost == 1'225'000);
  CHECK(f.wallet->unreconciled().value().size() == 1);
}

TEST_CASE("retries are new attempts; replaying an attempt never sends it again") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  venice.fail = true;  // attempt 1 is refused: released
  REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 1, {}, 1}).ok());
  venice.fail = false;
  auto second = meter.chat(venice, small_request(), CallContext{"r", 1, {}, 2});
  REQUIRE(second.ok());
  CHECK(f.wallet->spent("r").value() == second->cost);  // the success alone

  auto replay = meter.chat(venice, small_request(), CallContext{"r", 1, {}, 2});
  REQUIRE_FALSE(replay.ok());
  CHECK(venice.calls == 2);
  CHECK(f.wallet->spent("r").value() == second->cost);
}

TEST_CASE("a pipelined settle charges the same and hands out the receipt it will commit") {
  WalletFixture f;
  f.fund_usd("1");
  MeterOptions options = free_sim();
  options.pipelined_settle = true;
  Meter meter(*f.wallet, venice_prices(), options);
  ScriptedProvider venice("venice");

  auto result = meter.chat(venice, small_request(), CallContext{"run1", 1, {}});
  REQUIRE(result.ok());
  CHECK(result->cost == 3'000'000);
  REQUIRE(result->settlement.valid());
  REQUIRE(f.wallet->sync().ok());
  const auto& settled = result->settlement.get();
  REQUIRE(settled.ok());
  CHECK(settled->cost == result->cost);
  REQUIRE(settled->receipt.has_value());
  CHECK(settled->receipt->id == result->receipt_id);

  auto receipts = f.wallet->receipts("run1");
  REQUIRE(receipts.ok());
  REQUIRE(receipts->size() == 1);
  CHECK(receipts->front().id == result->receipt_id);
  CHECK(f.wallet->spent("run1").value() == 3'000'000);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("a pipelined meter still settles estimates and failures before returning") {
  WalletFixture f;
  f.fund_usd("1");
  MeterOptions options = free_sim();
  options.pipelined_settle = true;
  Meter meter(*f.wallet, venice_prices(), options);
  ScriptedProvider venice("venice");
  venice.usage = {0, 0};  // no usage: charged the hold as an estimate, synchronously
  auto estimate = meter.chat(venice, small_request(), CallContext{"r", 1, {}});
  REQUIRE(estimate.ok());
  CHECK_FALSE(estimate->settlement.valid());
  CHECK(f.wallet->unreconciled().value().size() == 1);

  venice.fail = true;  // refused: released, nothing pending
  REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 2, {}}).ok());
  CHECK(f.balance().reserved == 0);
}

TEST_CASE("an embeddings call is reserved on its input and settled at the input price") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  providers::EmbedRequest request{"llama", {"hello", "world!"}};

  auto result = meter.embed(venice, request, CallContext{"run1", 1, {}});
  REQUIRE(result.ok());
  // 1000 input tokens at $1/M + $0.001 per request; no output is ever charged.
  CHECK(result->cost == 1000 * 1000 + 1'000'000);
  CHECK(result->response.vectors.size() == 2);
  CHECK_FALSE(result->receipt_id.empty());
  CHECK(f.wallet->spent("run1").value() == result->cost);
  CHECK(f.balance().reserved == 0);

  venice.fail = true;  // refused: released, nothing charged
  REQUIRE_FALSE(meter.embed(venice, request, CallContext{"run1", 2, {}}).ok());
  CHECK(f.wallet->spent("run1").value() == result->cost);

  // The worst case is one token per input byte plus framing: a budget below it refuses
  // the call before anything is sent.
  wallet::Budgets tight;
  tight.run_limit = 1'000'000 + 10 * 1000;
  venice.fail = false;
  const int sent = venice.calls;
  auto refused = meter.embed(venice, request, CallContext{"run2", 1, tight});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::budget_exceeded);
  CHECK(venice.calls == sent);
  f.require_verified();
}

namespace {

// Streams `pieces` to on_text, then answers, or fails as a cut stream would.
class StreamingProvider final : public providers::Provider {
 public:
  const std::string& name() const override { return name_; }
  Result<providers::ChatResponse> chat(const providers::ChatRequest&) override {
    return make_error(ErrorKind::internal, "chat() called instead of chat_call()");
  }
  Result<providers::ChatResponse> chat_call(const providers::ChatRequest& request,
                                            providers::ChatCall& call) override {
    ++calls;
    std::string sent;
    for (const std::string& piece : pieces) {
      if (call.on_text) call.on_text(piece);
      sent += piece;
    }
    if (fail) {
      call.partial_output = report_partial && !sent.empty();
      call.partial_text = report_partial ? sent : std::string();
      call.partial_usage = partial_usage;
      call.http_status = 200;
      return make_error(ErrorKind::transport, "the stream broke", name_, true);
    }
    providers::ChatResponse r;
    r.content = sent;
    r.model = request.model;
    r.provider = name_;
    r.usage = {1000, 500};
    return r;
  }
  std::vector<std::string> pieces{"Hello", ", wor"};  // 10 bytes
  bool fail = true;
  bool report_partial = true;  // a careless adapter may not say that text had arrived
  std::optional<providers::Usage> partial_usage;
  int calls = 0;

 private:
  std::string name_ = "venice";
};

constexpr wallet::Nanos kSmallHold = 25 * 1000 + 100 * 2000 + 1'000'000;  // small_request()

}  // namespace

TEST_CASE("a streamed answer reaches on_text in order and is settled as usual") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  StreamingProvider venice;
  venice.fail = false;
  std::string received;
  providers::ChatCall call;
  call.on_text = [&](std::string_view text) { received += text; };
  auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call);
  REQUIRE(result.ok());
  CHECK(received == "Hello, wor");
  CHECK(result->response.content == received);
  CHECK(result->cost == 1000 * 1000 + 500 * 2000 + 1'000'000);
  CHECK_FALSE(call.partial_output);
  CHECK(static_cast<bool>(call.on_text));  // the caller's sink is handed back
}

TEST_CASE("a stream that breaks after text with reported usage is settled at that usage") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  StreamingProvider venice;
  venice.partial_usage = providers::Usage{20, 3};
  providers::ChatCall call;
  call.on_text = [](std::string_view) {};
  auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().kind == ErrorKind::transport);
  CHECK_FALSE(result.error().retryable);  // billed: a retry would be billed again
  CHECK(call.partial_output);
  CHECK(call.http_status == 200);

  const wallet::Nanos cost = 20 * 1000 + 3 * 2000 + 1'000'000;
  CHECK(f.balance().usd == usd("1") - cost);
  CHECK(f.balance().reserved == 0);
  CHECK(f.wallet->spent("r").value() == cost);
  CHECK(f.wallet->unreconciled().value().empty());  // the provider's figure is final
  auto receipts = f.wallet->receipts("r");
  REQUIRE(receipts.ok());
  CHECK(receipts->size() == 1);
  // The caller learns what the failed call cost, and its receipt.
  CHECK(call.charged_nanos == cost);
  CHECK(call.charged_receipt == receipts->front().id);

  // The same attempt again is refused, never sent or charged twice.
  REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call).ok());
  CHECK(venice.calls == 1);
  CHECK(f.wallet->spent("r").value() == cost);
  f.require_verified();
}

TEST_CASE("a stream that breaks after text without usage is charged a bounded estimate") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  StreamingProvider venice;

  SUBCASE("one output token per byte received, every input token of the worst case") {
    SUBCASE("the adapter reports the partial output") {}
    SUBCASE("the adapter forgets to: the meter saw the text") { venice.report_partial = false; }
    providers::ChatCall call;
    call.on_text = [](std::string_view) {};
    auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call);
    REQUIRE_FALSE(result.ok());
    CHECK_FALSE(result.error().retryable);
    CHECK(call.partial_output);
    const wallet::Nanos estimate = 25 * 1000 + 10 * 2000 + 1'000'000;
    CHECK(estimate < kSmallHold);
    CHECK(f.wallet->spent("r").value() == estimate);
    CHECK(f.balance().usd == usd("1") - estimate);
  }
  SUBCASE("never above the hold however much text arrived") {
    venice.pieces = {std::string(5000, 'x')};
    providers::ChatCall call;
    call.on_text = [](std::string_view) {};
    REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call).ok());
    CHECK(f.wallet->spent("r").value() == kSmallHold);
  }
  CHECK(f.balance().reserved == 0);
  CHECK(f.wallet->unreconciled().value().size() == 1);
  auto receipts = f.wallet->receipts("r");
  REQUIRE(receipts.ok());
  CHECK(receipts->size() == 1);
  f.require_verified();
}

TEST_CASE("in a tab, a broken stream's estimate still counts the request the tab hashes later") {
  WalletFixture f;
  f.fund_usd("1");
  MeterOptions options = free_sim();
  options.tabs = true;
  Meter meter(*f.wallet, venice_prices(), options);
  StreamingProvider venice;
  providers::ChatCall call;
  call.on_text = [](std::string_view) {};
  REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call).ok());
  CHECK(call.partial_output);
  REQUIRE(meter.close_run("r").ok());
  // Every input token of the request's worst case, as outside a tab.
  const wallet::Nanos estimate = 25 * 1000 + 10 * 2000 + 1'000'000;
  CHECK(f.wallet->spent("r").value() == estimate);
  auto receipts = f.wallet->receipts("r").value();
  REQUIRE(receipts.size() == 1);
  CHECK(receipts.front().usage.input_tokens == 25);
  CHECK(receipts.front().request_hash == metering::request_hash(small_request()));
  f.require_verified();
}

TEST_CASE("a stream that fails before any text is released and charges nothing") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  StreamingProvider venice;
  venice.pieces.clear();
  venice.partial_usage = providers::Usage{20, 0};  // ignored: no output was generated
  providers::ChatCall call;
  call.on_text = [](std::string_view) {};
  auto result = meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().retryable);  // nothing was billed: the router may retry
  CHECK_FALSE(call.partial_output);
  CHECK(call.charged_nanos == 0);
  CHECK(call.charged_receipt.empty());
  CHECK(f.balance().usd == usd("1"));
  CHECK(f.balance().reserved == 0);
  CHECK(f.wallet->spent("r").value() == 0);
  CHECK(f.wallet->unreconciled().value().empty());
  f.require_verified();
}

TEST_CASE("a call its run abandoned in flight is charged its hold, as an estimate") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  ScriptedProvider venice("venice");
  venice.fail = true;
  venice.fail_kind = ErrorKind::cancelled;  // what an adapter answers once it abandons
  std::atomic<bool> cancel{false};
  providers::ChatCall call;
  call.abandon = &cancel;
  SUBCASE("abandoned: the provider may already have billed it") {
    cancel = true;
    REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call).ok());
    CHECK(call.charged_nanos == kSmallHold);
    CHECK(f.wallet->spent("r").value() == kSmallHold);
    CHECK(f.wallet->unreconciled().value().size() == 1);  // reconcile() corrects it
  }
  SUBCASE("cancelled otherwise (the reader stopped it): released") {
    REQUIRE_FALSE(meter.chat(venice, small_request(), CallContext{"r", 1, {}}, call).ok());
    CHECK(call.charged_nanos == 0);
    CHECK(f.wallet->spent("r").value() == 0);
  }
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}

TEST_CASE("open reserves without sending; close settles what the caller sent") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  StreamingProvider venice;
  venice.fail = false;

  std::string received;
  providers::ChatCall call;
  call.on_text = [&](std::string_view text) { received += text; };
  auto opened = meter.open(venice, small_request(std::nullopt), CallContext{"r", 1, {}}, call);
  REQUIRE(opened.ok());
  CHECK(venice.calls == 0);
  REQUIRE(opened->request.max_tokens.has_value());  // filled in: the hold bounds the bill
  CHECK(f.balance().reserved > 0);
  CHECK(f.wallet->spent("r").value() == f.balance().reserved);

  // The OpenCall may move (a scheduler keeps it until the answer arrives).
  Meter::OpenCall moved = std::move(*opened);
  auto answer = venice.chat_call(moved.request, call);
  auto closed = meter.close(moved, std::move(answer), call);
  REQUIRE(closed.ok());
  CHECK(received == "Hello, wor");
  CHECK(closed->cost == 1000 * 1000 + 500 * 2000 + 1'000'000);
  CHECK(f.balance().reserved == 0);
  CHECK(f.wallet->spent("r").value() == closed->cost);

  // Closing twice charges nothing more.
  auto again = meter.close(moved, closed->response, call);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == ErrorKind::invalid_argument);
  CHECK(f.wallet->spent("r").value() == closed->cost);
  f.require_verified();
}

TEST_CASE("a call closed after text reached a watched on_text is charged, not released") {
  WalletFixture f;
  f.fund_usd("1");
  Meter meter(*f.wallet, venice_prices(), free_sim());
  StreamingProvider venice;
  venice.report_partial = false;  // the adapter forgets; the watched sink saw the text
  providers::ChatCall call;
  call.on_text = [](std::string_view) {};
  auto opened = meter.open(venice, small_request(), CallContext{"r", 1, {}}, call);
  REQUIRE(opened.ok());
  auto answer = venice.chat_call(opened->request, call);
  auto closed = meter.close(*opened, std::move(answer), call);
  REQUIRE_FALSE(closed.ok());
  CHECK_FALSE(closed.error().retryable);
  CHECK(call.partial_output);
  CHECK(call.charged_nanos == 25 * 1000 + 10 * 2000 + 1'000'000);
  CHECK(f.wallet->spent("r").value() == call.charged_nanos);
}
