#include "wallet/prices.hpp"

#include <limits>

#include <nlohmann/json.hpp>

namespace perdiem::wallet {
namespace {

__extension__ typedef unsigned __int128 u128;  // __extension__: -Wpedantic
constexpr u128 kMillion = 1'000'000;

Result<Nanos> finish(u128 token_nanos, Nanos per_request) {
  // ceil, once per call; per_request is non-negative here.
  u128 cost = (token_nanos + kMillion - 1) / kMillion + static_cast<u128>(per_request);
  if (cost > static_cast<u128>(std::numeric_limits<Nanos>::max()))
    return make_error(ErrorKind::invalid_argument, "call cost does not fit in int64 nano-USD");
  return static_cast<Nanos>(cost);
}

bool any_negative(const Price& p) {
  return p.input_per_mtok < 0 || p.output_per_mtok < 0 || p.cached_input_per_mtok < 0 ||
         p.per_request < 0;
}

}  // namespace

Result<Nanos> cost_of(const Price& price, const Usage& usage) {
  if (usage.input_tokens < 0 || usage.output_tokens < 0 || usage.cached_input_tokens < 0)
    return make_error(ErrorKind::invalid_argument, "token counts must not be negative");
  if (usage.cached_input_tokens > usage.input_tokens)
    return make_error(ErrorKind::invalid_argument,
                      "cached input tokens (" + std::to_string(usage.cached_input_tokens) +
                          ") exceed input tokens (" + std::to_string(usage.input_tokens) + ")");
  if (any_negative(price))
    return make_error(ErrorKind::invalid_argument, "prices must not be negative");
  // All operands are non-negative int64: each product is below 2^126, so the sum of three
  // stays below 2^128 and cannot overflow unsigned __int128.
  auto mul = [](std::int64_t tokens, Nanos price_per_mtok) {
    return static_cast<u128>(tokens) * static_cast<u128>(price_per_mtok);
  };
  u128 total = mul(usage.input_tokens - usage.cached_input_tokens, price.input_per_mtok) +
               mul(usage.output_tokens, price.output_per_mtok) +
               mul(usage.cached_input_tokens, price.cached_input_per_mtok);
  return finish(total, price.per_request);
}

Result<Nanos> worst_case_cost(const Price& price, std::int64_t estimated_input_tokens,
                              std::int64_t max_output_tokens) {
  return cost_of(price, Usage{estimated_input_tokens, max_output_tokens, 0});
}

void PriceSheet::set(const std::string& provider, const std::string& model,
                     const Price& price) {
  prices_[{provider, model}] = price;
}

const Price* PriceSheet::lookup(std::string_view provider, std::string_view model) const {
  using Names = std::pair<std::string_view, std::string_view>;
  auto it = prices_.find(Names(provider, model));
  if (it == prices_.end()) it = prices_.find(Names(provider, "*"));
  return it == prices_.end() ? nullptr : &it->second;
}

Result<Price> PriceSheet::find(std::string_view provider, std::string_view model) const {
  if (const Price* price = lookup(provider, model)) return *price;
  return make_error(ErrorKind::not_found, "no price for model '" + std::string(model) +
                                              "' at provider '" + std::string(provider) + "'");
}

Result<PriceSheet> PriceSheet::from_json_text(std::string_view json_text) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error(ErrorKind::invalid_argument, "price sheet is not JSON");
  const nlohmann::json* list = &doc;
  if (doc.is_object()) {
    auto it = doc.find("prices");
    if (it == doc.end()) return make_error(ErrorKind::invalid_argument, "price sheet has no \"prices\"");
    list = &*it;
  }
  if (!list->is_array())
    return make_error(ErrorKind::invalid_argument, "\"prices\" must be an array");

  PriceSheet sheet;
  std::size_t index = 0;
  for (const auto& entry : *list) {
    std::string where = "price entry " + std::to_string(index++);
    if (!entry.is_object()) return make_error(ErrorKind::invalid_argument, where + " is not an object");
    auto text_field = [&](const char* name) -> Result<std::string> {
      auto it = entry.find(name);
      if (it == entry.end() || !it->is_string() || it->get_ref<const std::string&>().empty())
        return make_error(ErrorKind::invalid_argument,
                          where + ": \"" + name + "\" must be a non-empty string");
      return it->get<std::string>();
    };
    auto provider = text_field("provider");
    if (!provider) return provider.error();
    auto model = text_field("model");
    if (!model) return model.error();
    where += " (" + *provider + "/" + *model + ")";

    Price price;
    struct Field {
      const char* name;
      Nanos* out;
    } fields[] = {{"input", &price.input_per_mtok},
                  {"output", &price.output_per_mtok},
                  {"cached_input", &price.cached_input_per_mtok},
                  {"request", &price.per_request}};
    for (const Field& field : fields) {
      auto it = entry.find(field.name);
      if (it == entry.end()) continue;
      // Strings only: a JSON number would pass through a double on the way in.
      if (!it->is_string())
        return make_error(ErrorKind::invalid_argument,
                          where + ": \"" + field.name + "\" must be a decimal string like \"0.70\"");
      auto amount = parse_usd(it->get_ref<const std::string&>());
      if (!amount) return make_error(ErrorKind::invalid_argument, where + ": " + amount.error().message);
      *field.out = *amount;
    }
    auto key = std::make_pair(*provider, *model);
    if (sheet.prices_.count(key))
      return make_error(ErrorKind::invalid_argument, where + " is listed twice");
    sheet.prices_[key] = price;
  }
  return sheet;
}

std::string PriceSheet::to_json_text() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [key, price] : prices_) {
    list.push_back({{"provider", key.first},
                    {"model", key.second},
                    {"input", format_usd(price.input_per_mtok)},
                    {"output", format_usd(price.output_per_mtok)},
                    {"cached_input", format_usd(price.cached_input_per_mtok)},
                    {"request", format_usd(price.per_request)}});
  }
  return nlohmann::json{{"prices", list}}.dump(2);
}

}  // namespace perdiem::wallet
