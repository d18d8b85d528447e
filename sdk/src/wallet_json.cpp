// The JSON forms of the wallet's public values, as `perdiem wallet ... --json` prints them.
// Amounts are exact decimal strings (format_usd), never JSON numbers.
#include <nlohmann/json.hpp>

#include "perdiem/wallet.hpp"

namespace perdiem {
namespace {

using nlohmann::json;

json price_fields(const PriceEntry& p) {
  return {{"provider", p.provider},
          {"model", p.model},
          {"input", format_usd(p.input_per_mtok)},
          {"output", format_usd(p.output_per_mtok)},
          {"cached_input", format_usd(p.cached_input_per_mtok)},
          {"request", format_usd(p.per_request)}};
}

}  // namespace

std::string to_json(const WalletBalance& b) {
  json buckets = json::array();
  for (const auto& bucket : b.buckets) {
    buckets.push_back({{"grant", bucket.grant},
                       {"providers", bucket.providers},
                       {"daily", format_usd(bucket.daily)},
                       {"left", format_usd(bucket.left)}});
  }
  json j = {{"address", b.address},
            {"day", b.day},
            {"allowance", format_usd(b.allowance)},
            {"usd", format_usd(b.usd)},
            {"reserved", format_usd(b.reserved)},
            {"staked", format_usd(b.staked)},
            {"min_stake", format_usd(b.min_stake)},
            {"below_min_stake", b.below_min_stake},
            {"buckets", buckets}};
  return j.dump(2);
}

std::string to_json(const std::vector<LedgerRow>& rows) {
  json list = json::array();
  for (const auto& r : rows) {
    json refs = json::parse(r.refs, nullptr, /*allow_exceptions=*/false);
    if (refs.is_discarded()) refs = r.refs;  // shown as stored; `wallet verify` judges it
    list.push_back({{"seq", r.seq},
                    {"time_ms", r.time_ms},
                    {"kind", r.kind},
                    {"account", r.account},
                    {"amount", format_usd(r.amount)},
                    {"unit", r.in_credits ? "credits" : "usd"},
                    {"reservation", r.reservation},
                    {"refs", refs},
                    {"hash", r.hash}});
  }
  return list.dump(2);
}

std::string to_json(const WalletCheck& c) {
  json j = {{"ok", c.ok},
            {"entries", c.entries},
            {"first_bad_seq", c.first_bad_seq},
            {"problem", c.problem}};
  return j.dump(2);
}

std::string to_json(const std::vector<PriceEntry>& prices) {
  json list = json::array();
  for (const auto& p : prices) list.push_back(price_fields(p));
  return json{{"prices", list}}.dump(2);
}

std::string to_json(const std::vector<ReceiptInfo>& receipts) {
  json list = json::array();
  for (const auto& r : receipts) {
    // The signed document itself, so that what is exported verifies as it was signed.
    json doc = json::parse(r.json, nullptr, /*allow_exceptions=*/false);
    list.push_back(doc.is_discarded() ? json(r.json) : doc);
  }
  return list.dump(2);
}

std::string to_json(const GrantInfo& g) {
  json j = {{"id", g.id},
            {"issuer", g.issuer},
            {"holder", g.holder},
            {"kind", std::string(to_string(g.kind))},
            {"amount", format_usd(g.amount)},
            {"providers", g.providers},
            {"not_before", g.not_before},
            {"expires", g.expires},
            {"nonce", g.nonce}};
  return j.dump(2);
}

}  // namespace perdiem
