#include "runtime/router/candidates.hpp"

#include <limits>

namespace perdiem::router {
namespace {

__extension__ typedef unsigned __int128 u128;  // __extension__: -Wpedantic

}  // namespace

std::optional<Privacy> parse_privacy(std::string_view text) {
  if (text == "local") return Privacy::local;
  if (text == "no-log") return Privacy::no_log;
  if (text == "tee") return Privacy::tee;
  return std::nullopt;
}

std::string_view to_string(Privacy privacy) {
  switch (privacy) {
    case Privacy::local:
      return "local";
    case Privacy::no_log:
      return "no-log";
    case Privacy::tee:
      return "tee";
  }
  return "?";
}

bool Tags::has(Privacy privacy) const {
  switch (privacy) {
    case Privacy::local:
      return local;
    case Privacy::no_log:
      return no_log;
    case Privacy::tee:
      return tee;
  }
  return false;
}

std::optional<Nanos> worst_case_cost(const Price& price, std::int64_t input_tokens,
                                     std::int64_t max_output_tokens) {
  if (input_tokens < 0 || max_output_tokens < 0 || price.input_per_mtok < 0 ||
      price.output_per_mtok < 0 || price.per_request < 0)
    return std::nullopt;
  // Each product is below 2^126, so neither the sum nor the rounding overflows u128.
  const u128 token_nanos =
      static_cast<u128>(input_tokens) * static_cast<u128>(price.input_per_mtok) +
      static_cast<u128>(max_output_tokens) * static_cast<u128>(price.output_per_mtok);
  const u128 cost = (token_nanos + 999'999) / 1'000'000 + static_cast<u128>(price.per_request);
  if (cost > static_cast<u128>(std::numeric_limits<Nanos>::max())) return std::nullopt;
  return static_cast<Nanos>(cost);
}

std::string format_usd(Nanos amount) {
  const bool negative = amount < 0;
  // Work in unsigned so INT64_MIN has a magnitude.
  const std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(amount) : static_cast<std::uint64_t>(amount);
  std::string fraction = std::to_string(magnitude % 1'000'000'000);
  fraction.insert(0, 9 - fraction.size(), '0');
  // At least cents, never rounded: a $0.000012 call must not read as $0.00.
  while (fraction.size() > 2 && fraction.back() == '0') fraction.pop_back();
  return std::string(negative ? "-$" : "$") + std::to_string(magnitude / 1'000'000'000) + "." +
         fraction;
}

Status CandidateTable::add(const std::string& logical_model, Candidate candidate) {
  if (logical_model.empty() || candidate.provider.empty() || candidate.model.empty())
    return make_error(ErrorKind::invalid_argument,
                      "a candidate needs a logical model name, a provider and a model id");
  const Price& p = candidate.price;
  if (p.input_per_mtok < 0 || p.output_per_mtok < 0 || p.per_request < 0)
    return make_error(ErrorKind::invalid_argument, "negative price for '" + candidate.model +
                                                       "' at '" + candidate.provider + "'");
  std::vector<Candidate>& list = models_[logical_model];
  for (const Candidate& c : list) {
    if (c.provider == candidate.provider && c.model == candidate.model)
      return make_error(ErrorKind::invalid_argument,
                        "'" + candidate.model + "' at '" + candidate.provider +
                            "' is already a candidate for '" + logical_model + "'");
  }
  list.push_back(std::move(candidate));
  return Status::success();
}

Result<std::span<const Candidate>> CandidateTable::find(std::string_view logical_model) const {
  auto it = models_.find(logical_model);
  if (it == models_.end())
    return make_error(ErrorKind::not_found, "no provider is configured for model '" +
                                                std::string(logical_model) +
                                                "': add candidates for it to the config file");
  return std::span<const Candidate>(it->second);
}

std::vector<std::string> CandidateTable::models() const {
  std::vector<std::string> names;
  names.reserve(models_.size());
  for (const auto& [name, list] : models_) names.push_back(name);
  return names;
}

}  // namespace perdiem::router
