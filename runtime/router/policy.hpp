// Ranking the candidates for one call. Pure: the same candidates, request, health and
// allowance always give the same order, and every place in it comes with a reason.
//
// Credit-aware pricing: a call whose worst case today's prepaid allowance at a provider
// still covers costs nothing at the margin (the allowance expires at midnight UTC
// whether it is spent or not), so under `cheapest` such providers come first, the
// cheaper list price first among them, until the allowance no longer covers the call.
// Then calls spill over to the cheapest paid provider.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/router/candidates.hpp"
#include "runtime/router/health.hpp"

namespace perdiem::router {

enum class Policy {
  cheapest,  // lowest cost at the margin, then list price
  fastest,   // lowest moving average of total time (of time to first token if streaming)
  reliable,  // highest recent success rate
};

// "cheapest"/"price", "fastest"/"latency", "reliable"/"reliability"; nullopt otherwise.
std::optional<Policy> parse_policy(std::string_view text);
std::string_view to_string(Policy policy);

struct Constraints {
  std::optional<Nanos> max_price;    // cap on the call's worst case, nano-USD
  std::optional<Privacy> privacy;    // a tag the provider must carry
  bool tools = false;                // the call sends tools
  std::vector<std::string> allowed;  // provider names; empty allows every provider
  std::vector<std::string> denied;   // provider names; wins over `allowed`
};

// One call as the router sees it.
struct RouteRequest {
  Policy policy = Policy::cheapest;
  Constraints constraints;
  // Upper bounds the wallet reserves against (metering::max_input_tokens and the call's
  // max_tokens), so the worst case here is what the meter will hold.
  std::int64_t input_tokens = 0;
  std::int64_t max_output_tokens = 0;
  bool streaming = false;
  // When every remote candidate turns out unreachable, try local candidates that only
  // the `allowed` list kept out (every other constraint still applies). Local
  // candidates the constraints allow anyway are ranked with the rest as usual.
  bool local_fallback = false;
};

// Today's prepaid allowance left that can pay for a call at `provider`, in nano-USD
// (wallet::Balance::allowance_for). May be empty: no allowance anywhere.
using AllowanceOracle = std::function<Nanos(std::string_view provider)>;

struct Ranked {
  Candidate candidate;
  Nanos worst_case = 0;  // what the wallet will reserve
  Nanos marginal = 0;    // 0 when today's allowance covers the worst case
  ProviderStats health;
  std::string reason;  // why it sits where it does: the policy's key, price, health
};

struct Rejected {
  Candidate candidate;
  std::string reason;
  bool unreachable = false;  // rejected for its circuit breaker, not by the call
};

struct Ranking {
  std::vector<Ranked> ranked;          // best first
  std::vector<Ranked> local_fallback;  // best first; see RouteRequest::local_fallback
  std::vector<Rejected> rejected;      // in the order the candidates were given
};

// Ranks `candidates` for `request`. Ties break by cost at the margin, list price,
// success rate, then provider and model name, so the order never depends on the input
// order. Candidates whose breaker is open (or half-open with its probe out) are
// rejected as unreachable.
Ranking rank_candidates(std::span<const Candidate> candidates, const RouteRequest& request,
                        const HealthBook& health, const AllowanceOracle& allowance,
                        std::int64_t now_ms);

}  // namespace perdiem::router
