// Price sheets and the cost of a call, in integer nano-USD.
//
// A price is nano-USD per million tokens (input, output, cached input) plus a flat
// per-request price. The cost of a call is
//     ceil((uncached_in * input + out * output + cached_in * cached_input) / 1e6)
//       + per_request
// computed in 128-bit arithmetic and rounded up once per call, never per token class.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/money.hpp"

namespace perdiem::wallet {

struct Price {
  Nanos input_per_mtok = 0;
  Nanos output_per_mtok = 0;
  Nanos cached_input_per_mtok = 0;
  Nanos per_request = 0;
  friend bool operator==(const Price&, const Price&) = default;
};

// Token counts as providers report them. `input_tokens` counts every prompt token,
// cached ones included (OpenAI's prompt_tokens); `cached_input_tokens` is the part of
// them served from the provider's cache, billed at the cached price.
struct Usage {
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  friend bool operator==(const Usage&, const Usage&) = default;
};

// The cost of a call. invalid_argument for negative counts, cached > input, negative
// prices, or a cost that does not fit in int64.
Result<Nanos> cost_of(const Price& price, const Usage& usage);

// The worst case the wallet reserves before a call: every estimated input token at the
// uncached price, max_output_tokens at the output price, plus the per-request price.
Result<Nanos> worst_case_cost(const Price& price, std::int64_t estimated_input_tokens,
                              std::int64_t max_output_tokens);

// Prices by provider and model. A model of "*" is the provider's default.
class PriceSheet {
 public:
  // Parses {"prices": [{"provider": "venice", "model": "llama-3.3-70b", "input": "0.70",
  // "output": "2.80", "cached_input": "0.35", "request": "0"}, ...]} where each price is
  // a decimal USD string per million tokens (per request for "request"); missing prices
  // are 0. The top-level object may also be the array itself. Duplicate (provider, model)
  // pairs and malformed amounts are invalid_argument errors naming the entry.
  static Result<PriceSheet> from_json_text(std::string_view json);

  void set(const std::string& provider, const std::string& model, const Price& price);
  // The price for (provider, model), else (provider, "*"); not_found otherwise.
  Result<Price> find(std::string_view provider, std::string_view model) const;
  // The same, or null: no copy of the names and no error built, for the meter, which
  // looks up every call's price twice (once to route it, once to hold it), and finds
  // none for a free provider.
  const Price* lookup(std::string_view provider, std::string_view model) const;
  // The sheet in the from_json_text form (canonical decimal strings), for display.
  std::string to_json_text() const;
  std::size_t size() const { return prices_.size(); }

 private:
  // (provider, model) in std::pair's order, comparable with string_views as well.
  struct KeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const std::string_view a1 = a.first, b1 = b.first;
      if (a1 != b1) return a1 < b1;
      return std::string_view(a.second) < std::string_view(b.second);
    }
  };
  std::map<std::pair<std::string, std::string>, Price, KeyLess> prices_;
};

}  // namespace perdiem::wallet
