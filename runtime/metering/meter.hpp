// The meter: every model call goes through it. It prices the call, reserves the worst
// case in the wallet (budgets enforced there, atomically), sends the call, then settles
// the real cost from the reported usage (a signed receipt) or releases the hold when the
// call failed. Knows providers and the wallet; knows nothing of Lua.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "perdiem/error.hpp"
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

 private:
  wallet::Wallet& wallet_;
  wallet::PriceSheet prices_;
  MeterOptions options_;
};

// An upper bound on the input tokens of `request`: byte-level tokenizers emit at most one
// token per byte, plus a few per message for the chat template.
std::int64_t max_input_tokens(const providers::ChatRequest& request);

}  // namespace perdiem::metering
