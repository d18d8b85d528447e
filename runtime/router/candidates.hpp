// Candidates: the providers that serve one logical model ("llama-3.3-70b"), each with
// that provider's own model id, its price, its privacy tags and whether it takes tools.
// Plain data; the router ranks them (policy.hpp) and tries them (router.hpp).
//
// Prices are mirrored here rather than taken from wallet/prices.hpp so the router does
// not link the wallet. The runtime fills them from the same price sheet the meter uses,
// so the router's worst case is the amount the wallet will reserve.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"

namespace perdiem::router {

using Nanos = std::int64_t;  // nano-USD, as in the wallet

// Nano-USD per million tokens plus a flat per-request price. Cached-input pricing is
// left out: the worst case assumes no cache hit.
struct Price {
  Nanos input_per_mtok = 0;
  Nanos output_per_mtok = 0;
  Nanos per_request = 0;
  friend bool operator==(const Price&, const Price&) = default;
};

// Privacy tags a call may require. A tag is a claim the owner configured, not one the
// router can verify; `local` means the provider runs on this machine.
enum class Privacy { local, no_log, tee };

// "local", "no-log", "tee"; nullopt for anything else.
std::optional<Privacy> parse_privacy(std::string_view text);
std::string_view to_string(Privacy privacy);

struct Tags {
  bool local = false;
  bool no_log = false;
  bool tee = false;
  bool has(Privacy privacy) const;
  friend bool operator==(const Tags&, const Tags&) = default;
};

struct Candidate {
  std::string provider;  // perdiem's provider name: "venice", "ollama"
  std::string model;     // the id that provider knows the model by
  Price price;
  Tags tags;
  bool supports_tools = false;
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

// The most a call can cost at `price`: every input token at the input price,
// `max_output_tokens` at the output price, plus the per-request price, rounded up once
// (the same formula as wallet::worst_case_cost). nullopt for negative inputs or a cost
// that does not fit in int64.
std::optional<Nanos> worst_case_cost(const Price& price, std::int64_t input_tokens,
                                     std::int64_t max_output_tokens);

// "$0.0012", "$0.00", "$1.50": for reasons and traces people read.
std::string format_usd(Nanos amount);

// Logical model name -> candidates, in the order they were added (order carries no
// preference; ranking is the policy's job). Not thread-safe to modify while read.
class CandidateTable {
 public:
  // invalid_argument for an empty name, provider or model id, a negative price, or a
  // (provider, model) pair already listed under `logical_model`.
  Status add(const std::string& logical_model, Candidate candidate);

  // The candidates for `logical_model`; not_found when none is configured.
  Result<std::span<const Candidate>> find(std::string_view logical_model) const;

  // Every logical model name, sorted.
  std::vector<std::string> models() const;

 private:
  std::map<std::string, std::vector<Candidate>, std::less<>> models_;
};

}  // namespace perdiem::router
