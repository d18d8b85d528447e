// The meter: every model call goes through it. It prices the call, reserves the worst
// case in the wallet (budgets enforced there, atomically), sends the call, then settles
// the real cost from the reported usage (a signed receipt) or releases the hold when the
// call failed. Knows providers and the wallet; knows nothing of Lua.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "perdiem/error.hpp"
#include "runtime/metering/tabs.hpp"
#include "runtime/providers/provider.hpp"
#include "wallet/prices.hpp"
#include "wallet/wallet.hpp"

namespace perdiem::metering {

struct MeterOptions {
  // Sent as max_tokens when a call names none, so that the reserved worst case is a real
  // bound on what the provider may bill.
  int default_max_tokens = 1024;
  // Providers whose calls cost nothing without a price sheet entry (sim, local servers).
  std::function<bool(std::string_view provider)> is_free;
  // Settle without waiting for the settlement to be durable (Wallet::settle_async): the
  // call waits for its reservation only, which is what must be on disk before a request
  // is sent. The caller must Wallet::sync() before reading what a run spent.
  bool pipelined_settle = false;
  // Metering in memory (tabs.hpp, docs/wallet.md "Metering in memory"): calls reserve and
  // settle inside a tab, a durable reservation held for many calls of a (run, provider),
  // and their receipts are signed in batches when the tab closes, on a closer thread. A
  // call waits for the disk only when it opens a tab (one durable reserve per tab). The
  // runtime must close_run() when a run ends. pipelined_settle does not apply to tabs.
  bool tabs = false;
  TabOptions tab;
};

// One attempt at one logical call within a run. (run, step, attempt) is the idempotency
// key: replaying the same attempt (after a crash, say) never sends or charges it twice.
// A retry is a new attempt: a failed attempt that provably cost nothing is released, so
// a logical call that finally succeeds is charged for the success alone.
struct CallContext {
  std::string run;
  std::int64_t step = 0;
  wallet::Budgets budgets;  // budgets.run must equal `run`
  int attempt = 1;
};

struct MeteredResponse {
  providers::ChatResponse response;
  wallet::Nanos cost = 0;
  std::string receipt_id;  // "" when the wallet recorded no receipt
  // Pipelined: resolves once the settlement is durable, or with the error that kept it
  // from committing (the reservation then stays open and the wallet settles it at its
  // hold when next opened). Invalid when the settlement was already durable on return.
  // Invalid for a call charged in a tab: the tab's settlement is awaited by close_run().
  std::shared_future<Result<wallet::Settlement>> settlement;
};

struct MeteredEmbedding {
  providers::EmbedResponse response;
  wallet::Nanos cost = 0;
  std::string receipt_id;
  std::shared_future<Result<wallet::Settlement>> settlement;  // as MeteredResponse's
};

class Meter {
 public:
  Meter(wallet::Wallet& wallet, wallet::PriceSheet prices, MeterOptions options);

  // The price the wallet charges for `model` at `provider`: the sheet's entry, zero for
  // free providers, otherwise a config error telling the owner to add a price.
  Result<wallet::Price> price_for(const std::string& provider, const std::string& model) const;

  // The most `request` can cost at `provider` (what reserve() would hold).
  Result<wallet::Nanos> quote(const std::string& provider,
                              const providers::ChatRequest& request) const;

  // Reserve, call, settle (or release). Nothing is sent when the reservation is refused
  // (insufficient_credits, budget_exceeded). After a failure, the hold is released when
  // the provider cannot have billed (it refused the request, or could not be reached),
  // and charged in full as an unreconciled estimate when it may have (a timeout, an
  // answer too large or undecodable): budgets then stay true to what may be owed. An
  // answer without usage is charged its hold the same way.
  Result<MeteredResponse> chat(providers::Provider& provider, providers::ChatRequest request,
                               const CallContext& context);

  // The same through provider.chat_call: `call.on_text` (may be empty) receives the
  // answer's text as it arrives, and what the adapter learned (status, Retry-After,
  // partial output, ttft) is left in `call` for the router. A call that fails after part
  // of its answer arrived (call.partial_output, or text reached on_text) was billed by the
  // provider, so its hold is settled, never released: at call.partial_usage when the
  // provider reported it (a final receipt), else at an estimate no larger than the hold
  // (every input token of the worst case, one output token per byte received, at most
  // max_tokens), recorded unreconciled like a timeout's. The error is still returned, with
  // retryable cleared: a retry would be billed again. Settled before returning, pipelined
  // or not.
  Result<MeteredResponse> chat(providers::Provider& provider, providers::ChatRequest request,
                               const CallContext& context, providers::ChatCall& call);

  // A call the meter has priced and reserved, not yet sent (see open()). Movable; the
  // caller sends `request` (and nothing else) and hands the answer back to close().
  struct OpenCall {
    // As it must be sent (max_tokens filled in). close() may move it out: keep it only
    // until then.
    providers::ChatRequest request;

    // The meter's part; not for callers.
    std::string provider;
    wallet::Reservation reservation;  // the call's own, or (with tabs) its share of a tab
    std::optional<Tabs::Seat> seat;   // with tabs: its place in the tab
    std::string receipt_id;           // the receipt a charge will sign
    Unhashed unhashed;                // in a tab: hashed when the tab closes
    bool hash_request_later = false;  // close() moves `request` into `unhashed`
    wallet::CallRecord record;
    // When open() was given the ChatCall: the caller's on_text and the bytes that reached
    // it, shared with the wrapper installed in its place (so the OpenCall may move).
    struct TextWatch {
      std::size_t bytes = 0;
      providers::TextSink sink;
    };
    std::shared_ptr<TextWatch> watch;
    bool closed = false;
  };

  // The first half of chat(): prices `request` at `provider`, fills in max_tokens and
  // reserves the worst case under context's idempotency key. Nothing is sent. Errors: as
  // chat()'s refusals (insufficient_credits, budget_exceeded, config for an unpriced
  // model, invalid_argument for a replayed attempt). Every OpenCall must be close()d:
  // until then its hold counts against the run's budgets, and a process that dies first
  // leaves it to be settled at its hold, unreconciled, when the wallet is next opened.
  Result<OpenCall> open(providers::Provider& provider, providers::ChatRequest request,
                        const CallContext& context);
  // The same, also watching `call` for text that reaches its on_text (the wrapper counts
  // the bytes and passes them on), so a call that fails after text was delivered is
  // settled as billed even if the adapter forgot to set call.partial_output. close()
  // puts the caller's on_text back. `call` must be the ChatCall the request is sent with.
  Result<OpenCall> open(providers::Provider& provider, providers::ChatRequest request,
                        const CallContext& context, providers::ChatCall& call);
  // The second half: settles (or releases) what open() reserved, given the provider's
  // answer and what the adapter left in `call` (partial output, partial usage, status).
  // The rules are chat()'s with a ChatCall: call.charged_nanos/charged_receipt are set,
  // a failure after output arrived returns its error with retryable cleared. Output
  // that arrived is known from call.partial_output, call.partial_text and, when open()
  // watched `call`, the bytes counted at on_text. Closing twice is an invalid_argument
  // error and charges nothing.
  Result<MeteredResponse> close(OpenCall& open_call, Result<providers::ChatResponse> answer,
                                providers::ChatCall& call);

  // With tabs: closes the run's tabs and waits until they are durable, so wallet.spent(run)
  // and wallet.receipts(run) are exact and complete. Call it when a run ends (and before
  // reading what it spent); the run's next call opens a new tab. No-op without tabs.
  [[nodiscard]] Status close_run(const std::string& run);
  // close_run() for a run that goes on (before reading what it spent, or changing its
  // budgets): replayed attempts of the run are still refused afterwards.
  [[nodiscard]] Status flush_run(const std::string& run);
  // close_run() in two halves, for many runs ending together: begin_close_run() never
  // waits, and their tabs are signed and committed together; end_close_run() waits.
  void begin_close_run(const std::string& run);
  [[nodiscard]] Status end_close_run(const std::string& run);

  // The same for an embeddings call: priced at the input price (and per request), its
  // worst case one token per input byte.
  Result<MeteredEmbedding> embed(providers::Provider& provider,
                                 const providers::EmbedRequest& request,
                                 const CallContext& context);

 private:
  struct Charge {
    wallet::Nanos cost = 0;
    std::string receipt_id;
    std::shared_future<Result<wallet::Settlement>> settlement;
  };
  // Holds the worst case under the call's idempotency key (in a tab, or its own
  // reservation); refuses a replayed attempt.
  Result<OpenCall> hold(const std::string& provider, wallet::Nanos worst_case,
                        const CallContext& context);
  static wallet::CallRecord call_record(const std::string& model, const CallContext& context,
                                        const wallet::Price& price);
  // Charges `cost` for the held call: final, or an estimate to reconcile. `pipelined`:
  // a final charge may be settled without waiting (MeterOptions::pipelined_settle).
  Result<Charge> charge(OpenCall& held, wallet::Nanos cost, bool final,
                        const wallet::CallRecord& record, bool pipelined = false);
  // The call failed and was not billed: nothing is charged.
  void release(OpenCall& held);
  // The call failed: charge the hold as an estimate if the provider may have billed (a
  // timeout, or `abandoned` by its run after it was sent), release it otherwise. Returns what was charged (0 when released or not recorded).
  wallet::Nanos settle_failure(OpenCall& held, const Error& error,
                               const wallet::CallRecord& record, bool abandoned = false);
  // The call failed after `output_bytes` of its answer arrived: settle what the provider
  // billed (call.partial_usage) or an estimate bounded by the hold. Returns the charge.
  wallet::Nanos settle_partial(OpenCall& held, const providers::ChatCall& call,
                               std::size_t output_bytes, wallet::CallRecord record);
  // The call answered with record.usage: settle its cost (pipelined when configured), or
  // the hold as an estimate when the usage is missing or cannot be priced.
  Result<Charge> settle_success(OpenCall& held, const wallet::CallRecord& record);

  wallet::Wallet& wallet_;
  wallet::PriceSheet prices_;
  MeterOptions options_;
  std::unique_ptr<Tabs> tabs_;  // with MeterOptions::tabs
};

// An upper bound on the input tokens of `request`: byte-level tokenizers emit at most one
// token per byte, plus a few per message for the chat template.
std::int64_t max_input_tokens(const providers::ChatRequest& request);
std::int64_t max_input_tokens(const providers::EmbedRequest& request);

}  // namespace perdiem::metering
