#include "runtime/router/policy.hpp"

#include <algorithm>
#include <tuple>

namespace perdiem::router {
namespace {

bool listed(const std::vector<std::string>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

std::string ms_text(std::int64_t us) {
  return std::to_string(us / 1000) + " ms";
}

// What `fastest` compares: time to first token for a streamed call when known (total
// time bounds it from above otherwise), else total time; empty when never observed.
std::optional<std::int64_t> speed_of(const ProviderStats& health, bool streaming) {
  if (streaming && health.ttft_us) return health.ttft_us;
  return health.total_us;
}

// Why the call itself rules `c` out, or nullopt. The allowed list is checked apart
// because a local fallback may pass it.
std::optional<std::string> violation(const Candidate& c, const Constraints& k,
                                     std::optional<Nanos> worst_case) {
  if (listed(k.denied, c.provider)) return "provider '" + c.provider + "' is denied by the call";
  if (k.privacy && !c.tags.has(*k.privacy))
    return "lacks the '" + std::string(to_string(*k.privacy)) + "' privacy tag the call requires";
  if (k.tools && !c.supports_tools) return "does not support tool calls, which the call sends";
  if (!worst_case) return "its worst-case cost is out of range (check its price)";
  if (k.max_price && *worst_case > *k.max_price)
    return "worst case " + format_usd(*worst_case) + " exceeds the call's max price " +
           format_usd(*k.max_price);
  return std::nullopt;
}

std::optional<std::string> breaker_violation(const ProviderStats& h, std::int64_t now_ms) {
  if (h.breaker == Breaker::open)
    return "circuit open after " + std::to_string(h.consecutive_failures) +
           " consecutive failures; half-open in " +
           std::to_string((h.half_open_at_ms - now_ms + 999) / 1000) + " s";
  if (h.breaker == Breaker::half_open && h.probe_in_flight)
    return std::string("circuit half-open with its one probe already in flight");
  return std::nullopt;
}

std::string price_text(const Ranked& r, Nanos allowance) {
  if (r.worst_case == 0) return "free";
  if (r.marginal == 0)
    return "$0 at the margin: worst case " + format_usd(r.worst_case) +
           " is covered by today's allowance (" + format_usd(allowance) + " left)";
  std::string text = "worst case " + format_usd(r.worst_case) + ", paid";
  if (allowance > 0) text += " (today's allowance " + format_usd(allowance) + " does not cover it)";
  return text;
}

std::string speed_text(const ProviderStats& h, bool streaming) {
  if (streaming && h.ttft_us) return "time to first token ~" + ms_text(*h.ttft_us);
  if (h.total_us) return "total time ~" + ms_text(*h.total_us);
  return "no latency observed yet";
}

std::string reliability_text(const ProviderStats& h) {
  if (h.samples == 0) return "never tried";
  // The raw count, not the smoothed score the ranking uses: "66.6% over 1 recent calls"
  // (one success, Laplace-smoothed) read as if a third of one call had failed.
  return std::to_string(h.successes) + " of " + std::to_string(h.samples) +
         (h.samples == 1 ? " recent call" : " recent calls") + " succeeded";
}

// The policy's own fact first, then the others it breaks ties with.
std::string reason_for(const Ranked& r, const RouteRequest& request, Nanos allowance) {
  const std::string price = price_text(r, allowance);
  const std::string speed = speed_text(r.health, request.streaming);
  const std::string reliability = reliability_text(r.health);
  std::string text;
  switch (request.policy) {
    case Policy::cheapest:
      text = price + "; " + reliability;
      break;
    case Policy::fastest:
      text = speed + "; " + price;
      break;
    case Policy::reliable:
      text = reliability + "; " + price;
      break;
  }
  if (r.health.breaker == Breaker::half_open) text += "; circuit half-open: this call probes it";
  return text;
}

using SortKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                           std::string_view, std::string_view>;

// A total order for one policy; names come last so ties never fall to input order.
SortKey sort_key(const Ranked& r, const RouteRequest& request) {
  const std::int64_t success = -r.health.success_permille;  // higher is better
  const std::string_view provider = r.candidate.provider, model = r.candidate.model;
  switch (request.policy) {
    case Policy::cheapest:
      break;
    case Policy::fastest: {
      const std::optional<std::int64_t> speed = speed_of(r.health, request.streaming);
      // Unobserved providers go after observed ones: no evidence is not speed.
      return {speed ? 0 : 1, speed.value_or(0), r.marginal, r.worst_case, success, provider, model};
    }
    case Policy::reliable:
      return {success, r.marginal, r.worst_case, 0, 0, provider, model};
  }
  return {r.marginal, r.worst_case, success, 0, 0, provider, model};
}

void sort_ranked(std::vector<Ranked>& list, const RouteRequest& request) {
  std::stable_sort(list.begin(), list.end(), [&](const Ranked& a, const Ranked& b) {
    return sort_key(a, request) < sort_key(b, request);
  });
}

}  // namespace

std::optional<Policy> parse_policy(std::string_view text) {
  if (text == "cheapest" || text == "price") return Policy::cheapest;
  if (text == "fastest" || text == "latency") return Policy::fastest;
  if (text == "reliable" || text == "reliability") return Policy::reliable;
  return std::nullopt;
}

std::string_view to_string(Policy policy) {
  switch (policy) {
    case Policy::cheapest:
      return "cheapest";
    case Policy::fastest:
      return "fastest";
    case Policy::reliable:
      return "reliable";
  }
  return "?";
}

Ranking rank_candidates(std::span<const Candidate> candidates, const RouteRequest& request,
                        const HealthBook& health, const AllowanceOracle& allowance,
                        std::int64_t now_ms) {
  Ranking ranking;
  for (const Candidate& c : candidates) {
    const std::optional<Nanos> worst =
        worst_case_cost(c.price, request.input_tokens, request.max_output_tokens);
    if (std::optional<std::string> why = violation(c, request.constraints, worst)) {
      ranking.rejected.push_back({c, std::move(*why), false});
      continue;
    }
    const ProviderStats stats = health.stats(c.provider, now_ms);
    if (std::optional<std::string> why = breaker_violation(stats, now_ms)) {
      ranking.rejected.push_back({c, std::move(*why), true});
      continue;
    }
    const Nanos left = allowance ? std::max<Nanos>(0, allowance(c.provider)) : 0;
    Ranked r{c, *worst, *worst <= left ? 0 : *worst, stats, {}};
    r.reason = reason_for(r, request, left);
    const auto& allowed = request.constraints.allowed;
    if (allowed.empty() || listed(allowed, c.provider)) {
      ranking.ranked.push_back(std::move(r));
    } else if (c.tags.local && request.local_fallback) {
      r.reason = "local fallback, tried only if every remote provider is unreachable; " + r.reason;
      ranking.local_fallback.push_back(std::move(r));
    } else {
      ranking.rejected.push_back(
          {c, "provider '" + c.provider + "' is not in the call's allowed providers", false});
    }
  }
  sort_ranked(ranking.ranked, request);
  sort_ranked(ranking.local_fallback, request);
  return ranking;
}

}  // namespace perdiem::router
