#include "runtime/metering/meter.hpp"

#include <algorithm>
#include <string_view>

#include <nlohmann/json.hpp>

#include "runtime/metering/call_hashes.hpp"
#include "wallet/keys.hpp"

namespace perdiem::metering {
namespace {

constexpr std::int64_t kTemplateTokensPerMessage = 8;
constexpr std::int64_t kTemplateTokensPerRequest = 8;
// Requests and answers up to this size are hashed by a tab's closer (see open()).
constexpr std::int64_t kDeferredHashBytes = 16 * 1024;

// Whether a failed call may still be billed: the request reached the provider and it may
// have generated output before the failure.
bool price_charges_tokens(const wallet::Price& price) {
  return price.input_per_mtok != 0 || price.output_per_mtok != 0;
}

bool may_have_been_billed(const Error& error) {
  return error.kind == ErrorKind::timeout || error.kind == ErrorKind::bad_response;
}

}  // namespace

std::int64_t max_input_tokens(const providers::EmbedRequest& request) {
  std::int64_t tokens = kTemplateTokensPerRequest;
  for (const auto& input : request.inputs) {
    tokens += static_cast<std::int64_t>(input.size()) + kTemplateTokensPerMessage;
  }
  return tokens;
}

std::int64_t max_input_tokens(const providers::ChatRequest& request) {
  std::int64_t tokens = kTemplateTokensPerRequest;
  for (const auto& m : request.messages) {
    tokens += static_cast<std::int64_t>(m.content.size() + m.role.size() + m.tool_call_id.size()) +
              kTemplateTokensPerMessage;
    for (const auto& call : m.tool_calls) {
      tokens +=
          static_cast<std::int64_t>(call.id.size() + call.name.size() + call.arguments.size()) +
          kTemplateTokensPerMessage;
    }
  }
  // Offered tools are sent too: their names, descriptions and schemas are input.
  for (const auto& tool : request.tools) {
    tokens += static_cast<std::int64_t>(tool.name.size() + tool.description.size() +
                                        tool.parameters.size()) +
              kTemplateTokensPerMessage;
  }
  if (request.response_format) {
    tokens += static_cast<std::int64_t>(request.response_format->name.size() +
                                        request.response_format->schema.size()) +
              kTemplateTokensPerMessage;
  }
  return tokens;
}

Meter::Meter(wallet::Wallet& wallet, wallet::PriceSheet prices, MeterOptions options)
    : wallet_(wallet), prices_(std::move(prices)), options_(std::move(options)) {
  if (options_.tabs) tabs_ = std::make_unique<Tabs>(wallet_, options_.tab);
}

Status Meter::close_run(const std::string& run) {
  if (!tabs_) return {};
  return tabs_->close_run(run);
}

void Meter::begin_close_run(const std::string& run) {
  if (tabs_) tabs_->detach_run(run, true);
}

Status Meter::end_close_run(const std::string& run) {
  if (!tabs_) return {};
  return tabs_->await_run(run);
}

Status Meter::flush_run(const std::string& run) {
  if (!tabs_) return {};
  return tabs_->flush_run(run);
}

Result<wallet::Price> Meter::price_for(const std::string& provider,
                                       const std::string& model) const {
  if (const wallet::Price* price = prices_.lookup(provider, model)) return *price;
  if (options_.is_free && options_.is_free(provider)) return wallet::Price{};
  return make_error(ErrorKind::config,
                    "no price for model '" + model + "' at provider '" + provider +
                        "': add it to the \"prices\" of config.json so the wallet can "
                        "reserve the cost (see docs/wallet.md)",
                    provider);
}

Result<wallet::Nanos> Meter::quote(const std::string& provider,
                                   const providers::ChatRequest& request) const {
  Result<wallet::Price> price = price_for(provider, request.model);
  if (!price) return price.error();
  int max_output = request.max_tokens.value_or(options_.default_max_tokens);
  return wallet::worst_case_cost(*price, max_input_tokens(request), max_output);
}

Result<MeteredResponse> Meter::chat(providers::Provider& provider, providers::ChatRequest request,
                                    const CallContext& context) {
  providers::ChatCall call;
  return chat(provider, std::move(request), context, call);
}

Result<MeteredResponse> Meter::chat(providers::Provider& provider, providers::ChatRequest request,
                                    const CallContext& context, providers::ChatCall& call) {
  call.charged_nanos = 0;
  call.charged_receipt.clear();
  Result<OpenCall> open_call = open(provider, std::move(request), context, call);
  if (!open_call) return open_call.error();
  Result<providers::ChatResponse> answer = provider.chat_call(open_call->request, call);
  return close(*open_call, std::move(answer), call);
}

Result<Meter::OpenCall> Meter::open(providers::Provider& provider, providers::ChatRequest request,
                                    const CallContext& context) {
  if (!request.max_tokens) request.max_tokens = options_.default_max_tokens;
  Result<wallet::Price> price = price_for(provider.name(), request.model);
  if (!price) return price.error();
  Result<wallet::Nanos> worst_case =
      wallet::worst_case_cost(*price, max_input_tokens(request), *request.max_tokens);
  if (!worst_case) return worst_case.error();
  Result<OpenCall> open_call = hold(provider.name(), *worst_case, context);
  if (!open_call) return open_call;
  open_call->record = call_record(request.model, context, *price);
  // In a tab, a small call's hashes are left to the closer; a large one is hashed now
  // rather than held in memory until its tab closes.
  const bool defer_hashes = tabs_ && max_input_tokens(request) <= kDeferredHashBytes;
  // Deferred, the request is handed to the tab when the call closes (no copy).
  if (defer_hashes) open_call->hash_request_later = true;
  else open_call->record.request_hash = request_hash(request);
  open_call->request = std::move(request);
  return open_call;
}

Result<Meter::OpenCall> Meter::open(providers::Provider& provider, providers::ChatRequest request,
                                    const CallContext& context, providers::ChatCall& call) {
  Result<OpenCall> open_call = open(provider, std::move(request), context);
  if (!open_call) return open_call;
  // Counts the text that arrives, so a failure after some of it is never taken for one
  // the provider did not bill, even if the adapter forgot to say so.
  if (call.on_text) {
    auto watch = std::make_shared<OpenCall::TextWatch>();
    watch->sink = std::move(call.on_text);
    call.on_text = [watch](std::string_view text) {
      watch->bytes += text.size();
      watch->sink(text);
    };
    open_call->watch = std::move(watch);
  }
  return open_call;
}
Result<MeteredResponse> Meter::close(OpenCall& open_call, Result<providers::ChatResponse> answer,
                                     providers::ChatCall& call) {
  call.charged_nanos = 0;
  call.charged_receipt.clear();
  std::size_t output_bytes = 0;
  if (open_call.watch) {
    output_bytes = open_call.watch->bytes;
    call.on_text = std::move(open_call.watch->sink);
    open_call.watch.reset();
  }
  if (open_call.closed) {
    return make_error(ErrorKind::invalid_argument,
                      "this call (reservation " + std::to_string(open_call.reservation.id) +
                          ") was already closed",
                      open_call.provider);
  }
  open_call.closed = true;
  if (open_call.hash_request_later) open_call.unhashed.request = std::move(open_call.request);
  wallet::CallRecord record = std::move(open_call.record);
  if (!answer) {
    Error error = answer.error();
    if (call.partial_output || output_bytes > 0) {
      call.partial_output = true;
      error.retryable = false;  // the provider billed this attempt; a retry is billed again
      call.charged_nanos = settle_partial(open_call, call, output_bytes, std::move(record));
    } else {
      // Abandoned by its run after it was sent: the provider may have billed it.
      const bool abandoned = error.kind == ErrorKind::cancelled && call.abandon != nullptr &&
                             call.abandon->load();
      call.charged_nanos = settle_failure(open_call, error, record, abandoned);
    }
    if (call.charged_nanos > 0) call.charged_receipt = open_call.receipt_id;
    return error;
  }
  providers::ChatResponse& response = *answer;
  if (!response.model.empty()) record.model = response.model;
  record.usage.input_tokens = response.usage.input_tokens;
  record.usage.output_tokens = response.usage.output_tokens;
  // Part of input_tokens, billed at the cached price. (Cache writes are billed at the
  // input price until price sheets carry a cache-write price.)
  record.usage.cached_input_tokens = response.usage.cached_input_tokens;
  if (open_call.unhashed.request &&
      static_cast<std::int64_t>(response.content.size()) <= kDeferredHashBytes) {
    providers::ChatResponse& hashed = open_call.unhashed.response.emplace();
    hashed.content = response.content;
    hashed.model = response.model;
    hashed.provider = response.provider;
    hashed.finish_reason = response.finish_reason;
  } else {
    record.response_hash = response_hash(response);
  }
  Result<Charge> charge = settle_success(open_call, record);
  if (!charge) return charge.error();
  MeteredResponse metered;
  metered.response = std::move(response);
  metered.cost = charge->cost;
  metered.receipt_id = std::move(charge->receipt_id);
  metered.settlement = std::move(charge->settlement);
  return metered;
}

Result<MeteredEmbedding> Meter::embed(providers::Provider& provider,
                                      const providers::EmbedRequest& request,
                                      const CallContext& context) {
  Result<wallet::Price> price = price_for(provider.name(), request.model);
  if (!price) return price.error();
  Result<wallet::Nanos> worst_case =
      wallet::worst_case_cost(*price, max_input_tokens(request), /*max_output_tokens=*/0);
  if (!worst_case) return worst_case.error();
  Result<OpenCall> held = hold(provider.name(), *worst_case, context);
  if (!held) return held.error();

  wallet::CallRecord record = call_record(request.model, context, *price);
  record.request_hash =
      wallet::keccak256(nlohmann::json{{"model", request.model}, {"input", request.inputs}}.dump());
  Result<providers::EmbedResponse> response = provider.embed(request);
  if (!response) {
    settle_failure(*held, response.error(), record);
    return response.error();
  }
  if (!response->model.empty()) record.model = response->model;
  record.usage.input_tokens = response->usage.input_tokens;
  std::string vectors_digest;
  for (const auto& vector : response->vectors) {
    vectors_digest.append(reinterpret_cast<const char*>(vector.data()),
                          vector.size() * sizeof(float));
  }
  record.response_hash = wallet::keccak256(vectors_digest);
  Result<Charge> charge = settle_success(*held, record);
  if (!charge) return charge.error();
  MeteredEmbedding metered;
  metered.response = std::move(*response);
  metered.cost = charge->cost;
  metered.receipt_id = std::move(charge->receipt_id);
  metered.settlement = std::move(charge->settlement);
  return metered;
}

Result<Meter::OpenCall> Meter::hold(const std::string& provider, wallet::Nanos worst_case,
                                    const CallContext& context) {
  wallet::Budgets budgets = context.budgets;
  budgets.run = context.run;
  OpenCall held;
  held.provider = provider;
  if (tabs_) {
    std::optional<CallKey> key;
    if (!context.run.empty()) key = CallKey{context.step, context.attempt};
    Result<Tabs::Seat> seat = tabs_->admit(provider, worst_case, budgets, key);
    if (!seat) return seat.error();
    held.reservation.id = seat->tab_id;
    held.reservation.provider = provider;
    held.reservation.run = context.run;
    held.reservation.hold = worst_case;
    held.receipt_id = wallet::tab_receipt_id(seat->tab_id, seat->seq);
    held.seat = std::move(*seat);
    return held;
  }
  wallet::ReserveRequest request;
  if (!context.run.empty())
    request.idempotency_key = call_key_text(context.run, {context.step, context.attempt});
  request.provider = provider;
  request.worst_case = worst_case;
  request.budgets = std::move(budgets);
  Result<wallet::Reservation> reservation = wallet_.reserve(request);
  if (!reservation) return reservation.error();
  if (reservation->replayed && reservation->state != wallet::ReservationState::open) {
    // This exact attempt was already made and accounted for; sending it again would be a
    // second, uncharged call.
    return make_error(ErrorKind::invalid_argument,
                      "this call (" + request.idempotency_key + ") was already made", provider);
  }
  held.reservation = std::move(*reservation);
  held.receipt_id = wallet::receipt_id_for(held.reservation);
  return held;
}

wallet::CallRecord Meter::call_record(const std::string& model, const CallContext& context,
                                      const wallet::Price& price) {
  wallet::CallRecord record;
  record.model = model;
  record.step = context.step;
  record.prices = price;
  return record;
}

Result<Meter::Charge> Meter::charge(OpenCall& held, wallet::Nanos cost, bool final,
                                    const wallet::CallRecord& record, bool pipelined) {
  Charge charge;
  if (held.seat) {
    if (!wallet::valid_receipt_text(record.model)) {
      // The batch could not sign it: charge the hold, unnamed, and say why.
      wallet::CallRecord unnamed = record;
      unnamed.model.clear();
      held.receipt_id = tabs_->charge(*held.seat, held.reservation.hold, /*final=*/false,
                                      std::move(unnamed), std::move(held.unhashed));
      held.seat.reset();
      return make_error(ErrorKind::invalid_argument, "model id '" + record.model +
                                                         "' has characters outside "
                                                         "[A-Za-z0-9._:/@+-]",
                        held.provider);
    }
    charge.cost = cost;
    charge.receipt_id = tabs_->charge(*held.seat, cost, final, record, std::move(held.unhashed));
    // A call handed over to a new tab while in flight has a new receipt id.
    held.receipt_id = charge.receipt_id;
    held.seat.reset();
    return charge;
  }
  if (final && pipelined && options_.pipelined_settle) {
    charge.settlement = wallet_.settle_async(held.reservation, cost, record).share();
    charge.cost = cost;
    charge.receipt_id = wallet::receipt_id_for(held.reservation);
    return charge;
  }
  Result<wallet::Settlement> settlement =
      final ? wallet_.settle(held.reservation, cost, record)
            : wallet_.settle_estimate(held.reservation.id, cost, record);
  if (!settlement) return settlement.error();
  charge.cost = settlement->cost;
  if (settlement->receipt) charge.receipt_id = settlement->receipt->id;
  return charge;
}

void Meter::release(OpenCall& held) {
  if (held.seat) {
    tabs_->release(*held.seat);
    held.seat.reset();
    return;
  }
  // If the release itself fails, the reservation stays open and the next open settles it
  // at the hold, which never exceeds a budget.
  (void)wallet_.release(held.reservation.id);
}

wallet::Nanos Meter::settle_failure(OpenCall& held, const Error& error,
                                    const wallet::CallRecord& record, bool abandoned) {
  if (abandoned || may_have_been_billed(error)) {
    // The hold is the most the provider can bill; reconcile() corrects it later.
    Result<Charge> charged = charge(held, held.reservation.hold, /*final=*/false, record);
    return charged ? charged->cost : 0;
  }
  // Refused or unreachable: nothing was generated, so nothing is charged.
  release(held);
  return 0;
}

wallet::Nanos Meter::settle_partial(OpenCall& held, const providers::ChatCall& call,
                                    std::size_t output_bytes, wallet::CallRecord record) {
  // close() has handed the request to the tab when its hash waits for the closer.
  const providers::ChatRequest& request = held.unhashed.request ? *held.unhashed.request
                                                                : held.request;
  providers::ChatResponse partial;
  partial.content = call.partial_text;
  partial.model = record.model;
  partial.finish_reason = "error";
  record.response_hash = response_hash(partial);
  held.unhashed.response.reset();
  const bool usage_reported =
      call.partial_usage && (call.partial_usage->input_tokens != 0 ||
                             call.partial_usage->output_tokens != 0 ||
                             !price_charges_tokens(record.prices));
  if (usage_reported) {
    wallet::CallRecord reported = record;
    reported.usage.input_tokens = call.partial_usage->input_tokens;
    reported.usage.output_tokens = call.partial_usage->output_tokens;
    reported.usage.cached_input_tokens = call.partial_usage->cached_input_tokens;
    Result<wallet::Nanos> cost = wallet::cost_of(reported.prices, reported.usage);
    // What the provider reported is what it bills: a final settlement, like a success's.
    // If it cannot be priced or recorded, the estimate below still charges the call.
    if (cost) {
      Result<Charge> charged = charge(held, *cost, /*final=*/true, reported);
      if (charged) return charged->cost;
    }
  }
  // No usage reported: bound it. Every input token of the worst case, and at most one
  // output token per byte received (a byte-level tokenizer cannot emit more), never
  // above max_tokens, so never above the hold.
  const std::int64_t received =
      static_cast<std::int64_t>(std::max(output_bytes, call.partial_text.size()));
  record.usage = wallet::Usage{};
  record.usage.input_tokens = max_input_tokens(request);
  record.usage.output_tokens =
      std::min<std::int64_t>(received, request.max_tokens.value_or(options_.default_max_tokens));
  Result<wallet::Nanos> estimate = wallet::cost_of(record.prices, record.usage);
  const wallet::Nanos amount =
      estimate ? std::min(*estimate, held.reservation.hold) : held.reservation.hold;
  // If this fails, the reservation stays open and the next open settles it at the hold.
  Result<Charge> charged = charge(held, amount, /*final=*/false, record);
  return charged ? charged->cost : 0;
}

Result<Meter::Charge> Meter::settle_success(OpenCall& held, const wallet::CallRecord& record) {
  Result<wallet::Nanos> cost = wallet::cost_of(record.prices, record.usage);
  const bool usage_missing = record.usage.input_tokens == 0 && record.usage.output_tokens == 0 &&
                             price_charges_tokens(record.prices);
  if (!cost || usage_missing) {
    // Usage the wallet cannot price, or none reported: charge the hold, never less, and
    // leave it for reconciliation.
    return charge(held, held.reservation.hold, /*final=*/false, record);
  }
  return charge(held, *cost, /*final=*/true, record, /*pipelined=*/true);
}

}  // namespace perdiem::metering
