// GET {base_url}/models, the OpenAI-compatible model list, and the prices some providers
// publish in it (OpenRouter's `pricing`: USD per token as decimal strings), converted to
// the wallet's units (nano-USD per million tokens) exactly, rounding up.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"

namespace perdiem::providers {

// What one model costs, as the provider publishes it.
struct PublishedPrice {
  std::int64_t input_per_mtok = 0;   // nano-USD per million prompt tokens
  std::int64_t output_per_mtok = 0;  // nano-USD per million completion tokens
  std::int64_t per_request = 0;      // nano-USD per request
  std::optional<std::int64_t> cached_input_per_mtok;  // when published (input_cache_read)
};

struct ListedModel {
  std::string id;
  std::optional<PublishedPrice> price;  // absent when the provider publishes none
};

// The list a /models answer holds, in its order. bad_response for a body that is not
// {"data": [{"id": ...}, ...]}; the provider's own error for a non-2xx status. A model
// whose price is not a plain non-negative amount (OpenRouter marks variable prices "-1")
// is listed without a price.
Result<std::vector<ListedModel>> decode_models_response(long http_status, std::string_view body,
                                                        const std::string& provider);

// "0.00000059" USD per token -> 590000000 nano-USD per million tokens (x 10^15), exact,
// rounded up; nullopt for anything but a plain non-negative decimal under $1000/token.
std::optional<std::int64_t> usd_per_token_to_nanos_per_mtok(std::string_view text);

}  // namespace perdiem::providers
