#include "runtime/providers/models_codec.hpp"

#include <cctype>

#include <nlohmann/json.hpp>

#include "runtime/providers/wire.hpp"

namespace perdiem::providers {
namespace {

using Json = wire::Json;  // ordered, as every wire codec reads it

constexpr int kShift = 15;  // USD per token -> nano-USD (10^9) per million tokens (10^6)
constexpr std::size_t kMaxModels = 10'000;

Error malformed(const std::string& provider, const std::string& what) {
  return make_error(ErrorKind::bad_response, "the model list is malformed: " + what, provider);
}

// A price field: a decimal string (OpenRouter) or a number; nullopt when malformed.
std::optional<std::int64_t> price_field(const Json& value) {
  if (value.is_string()) return usd_per_token_to_nanos_per_mtok(value.get<std::string>());
  if (value.is_number()) {
    // Through the shortest decimal text of the number, so 5.9e-07 reads exactly.
    return usd_per_token_to_nanos_per_mtok(value.dump());
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> usd_per_token_to_nanos_per_mtok(std::string_view text) {
  std::size_t i = 0;
  std::int64_t whole = 0;
  std::size_t whole_digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    whole = whole * 10 + (text[i] - '0');
    if (++whole_digits > 3) return std::nullopt;  // $1000 a token and up: not a price
    ++i;
  }
  std::int64_t fraction = 0;  // the first kShift decimals, as an integer
  int decimals = 0;
  bool round_up = false;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (decimals < kShift) {
        fraction = fraction * 10 + (text[i] - '0');
        ++decimals;
      } else if (text[i] != '0') {
        round_up = true;  // a fraction of a nano-USD per million tokens
      }
      ++i;
    }
  }
  // Scientific notation from a JSON number ("5.9e-07").
  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) negative = text[i++] == '-';
    std::size_t digits = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) && digits < 3) {
      exponent = exponent * 10 + (text[i++] - '0');
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    if (negative) exponent = -exponent;
  }
  if (i != text.size() || (whole_digits == 0 && decimals == 0)) return std::nullopt;
  // value = (whole . fraction) * 10^exponent; result = value * 10^kShift.
  std::int64_t scaled = whole;
  for (int d = 0; d < kShift; ++d) scaled *= 10;
  std::int64_t fraction_scaled = fraction;
  for (int d = decimals; d < kShift; ++d) fraction_scaled *= 10;
  scaled += fraction_scaled;
  for (; exponent > 0; --exponent) {
    if (scaled > INT64_MAX / 10) return std::nullopt;
    scaled *= 10;
  }
  for (; exponent < 0; ++exponent) {
    round_up = round_up || scaled % 10 != 0;
    scaled /= 10;
  }
  return scaled + (round_up ? 1 : 0);
}

Result<std::vector<ListedModel>> decode_models_response(long http_status, std::string_view body,
                                                        const std::string& provider) {
  Result<Json> doc = wire::parse_response(http_status, body, provider);
  if (!doc) return doc.error();
  auto data = doc->find("data");
  if (!doc->is_object() || data == doc->end() || !data->is_array()) {
    return malformed(provider, "no \"data\" list");
  }
  if (data->size() > kMaxModels) return malformed(provider, "more than 10000 models");
  std::vector<ListedModel> models;
  for (const Json& entry : *data) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string()) {
      return malformed(provider, "a model without an \"id\"");
    }
    ListedModel model;
    model.id = entry["id"].get<std::string>();
    if (auto pricing = entry.find("pricing"); pricing != entry.end() && pricing->is_object()) {
      PublishedPrice price;
      bool usable = true;
      const std::pair<const char*, std::int64_t*> fields[] = {
          {"prompt", &price.input_per_mtok},
          {"completion", &price.output_per_mtok},
          {"request", &price.per_request}};
      for (const auto& [key, out] : fields) {
        auto it = pricing->find(key);
        if (it == pricing->end()) {
          // Without both token prices the model is not priced: a missing output price
          // must not read as free output.
          usable = usable && std::string_view(key) == "request";
          continue;
        }
        // A price that is not a plain amount ("-1" marks a variable price on OpenRouter)
        // leaves the model unpriced rather than failing the whole list.
        std::optional<std::int64_t> nanos = price_field(*it);
        usable = usable && nanos.has_value();
        if (nanos) *out = *nanos;
      }
      // "request" is USD per request, not per token: undo the per-million scaling.
      price.per_request = (price.per_request + 999'999) / 1'000'000;
      for (const char* key : {"input_cache_read", "input_cache_reads"}) {
        if (auto cached = pricing->find(key); cached != pricing->end()) {
          price.cached_input_per_mtok = price_field(*cached);
        }
      }
      if (usable) model.price = price;
    }
    models.push_back(std::move(model));
  }
  return models;
}

}  // namespace perdiem::providers
