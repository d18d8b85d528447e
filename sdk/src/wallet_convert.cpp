#include "wallet_convert.hpp"

#include "wallet/hex.hpp"

namespace perdiem::sdk {
namespace {

std::string hash_hex(const wallet::Hash32& hash) { return "0x" + wallet::hex_encode(hash); }

}  // namespace

GrantInfo to_public(const wallet::Grant& grant, std::int64_t id) {
  GrantInfo out;
  out.id = id;
  out.issuer = grant.issuer.to_string();
  out.holder = grant.holder.to_string();
  out.kind = grant.kind == wallet::GrantKind::stake ? GrantKind::stake : GrantKind::usd;
  out.amount = grant.amount;
  out.providers = grant.providers;
  out.not_before = grant.not_before;
  out.expires = grant.expires;
  out.nonce = grant.nonce;
  return out;
}

ReceiptInfo to_public(const wallet::Receipt& receipt) {
  ReceiptInfo out;
  out.id = receipt.id;
  out.wallet = receipt.wallet.to_string();
  out.final = receipt.final;
  out.run = receipt.run;
  out.step = receipt.step;
  out.provider = receipt.provider;
  out.model = receipt.model;
  out.input_tokens = receipt.usage.input_tokens;
  out.output_tokens = receipt.usage.output_tokens;
  out.cached_input_tokens = receipt.usage.cached_input_tokens;
  out.prices = PriceEntry{receipt.provider,
                          receipt.model,
                          receipt.prices.input_per_mtok,
                          receipt.prices.output_per_mtok,
                          receipt.prices.cached_input_per_mtok,
                          receipt.prices.per_request};
  out.cost = receipt.cost;
  out.time_ms = receipt.time_ms;
  out.request_hash = hash_hex(receipt.request_hash);
  out.response_hash = hash_hex(receipt.response_hash);
  out.signature = wallet::signature_to_hex(receipt.signature);
  out.json = wallet::receipt_to_json(receipt);
  return out;
}

WalletBalance to_public(const wallet::Balance& balance) {
  WalletBalance out;
  out.day = balance.day;
  out.allowance = balance.allowance;
  out.usd = balance.usd;
  out.reserved = balance.reserved;
  out.staked = balance.staked;
  out.below_min_stake = balance.below_min_stake;
  for (const auto& b : balance.buckets)
    out.buckets.push_back(AllowanceBucket{b.grant, b.providers, b.daily, b.left});
  return out;
}

LedgerRow to_public(const wallet::LedgerEntry& entry) {
  LedgerRow out;
  out.seq = entry.seq;
  out.time_ms = entry.time_ms;
  out.kind = entry.kind;
  out.account = entry.account;
  out.amount = entry.amount;
  out.in_credits = entry.account.rfind("stake:", 0) == 0;
  out.reservation = entry.reservation;
  out.refs = entry.refs;
  out.hash = hash_hex(entry.hash);
  return out;
}

WalletCheck to_public(const wallet::VerifyReport& report) {
  return WalletCheck{report.ok, report.entries, report.first_bad_seq, report.problem};
}

}  // namespace perdiem::sdk
