// Ranking: each policy, each constraint, credit-aware spill-over, and ties that never
// depend on the order candidates were listed in.
#include "runtime/router/policy.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "router_fixture.hpp"

using namespace perdiem::router;
using namespace perdiem::router::testing;

namespace {

constexpr Nanos kUsdPerMtok = 1'000'000'000;

// 1,000 tokens in and out: worst case = (input + output price per Mtok) / 1,000.
RouteRequest call(Policy policy = Policy::cheapest) {
  RouteRequest r;
  r.policy = policy;
  r.input_tokens = 1'000;
  r.max_output_tokens = 1'000;
  return r;
}

std::vector<std::string> order(const std::vector<Ranked>& ranked) {
  std::vector<std::string> names;
  for (const Ranked& r : ranked) names.push_back(r.candidate.provider);
  return names;
}

std::map<std::string, std::string> rejections(const Ranking& ranking) {
  std::map<std::string, std::string> out;
  for (const Rejected& r : ranking.rejected) out[r.candidate.provider] = r.reason;
  return out;
}

AllowanceOracle allowances(std::map<std::string, Nanos> left) {
  return [left](std::string_view provider) {
    auto it = left.find(std::string(provider));
    return it == left.end() ? Nanos{0} : it->second;
  };
}

// venice $3 worst case per 1k/1k call... scaled: $0.003, together $0.002, groq $0.001.
std::vector<Candidate> three() {
  return {remote("venice", kUsdPerMtok, 2 * kUsdPerMtok),
          remote("together", kUsdPerMtok, kUsdPerMtok),
          remote("groq", kUsdPerMtok / 2, kUsdPerMtok / 2)};
}

}  // namespace

TEST_CASE("worst_case_cost rounds up once per call, like the wallet") {
  CHECK(worst_case_cost({kUsdPerMtok, 2 * kUsdPerMtok, 0}, 1'000, 1'000) == 3'000'000);
  CHECK(worst_case_cost({1, 1, 0}, 1, 1) == 1);  // 2e-6 nanos rounds up to 1
  CHECK(worst_case_cost({0, 0, 7}, 1'000, 1'000) == 7);
  CHECK(worst_case_cost({0, 0, 0}, 1'000, 1'000) == 0);
  CHECK_FALSE(worst_case_cost({-1, 0, 0}, 1, 1));
  CHECK_FALSE(worst_case_cost({0, 0, 0}, -1, 1));
  CHECK_FALSE(worst_case_cost({INT64_MAX, INT64_MAX, 0}, INT64_MAX, INT64_MAX));
}

TEST_CASE("format_usd shows at least cents and never rounds") {
  CHECK(format_usd(0) == "$0.00");
  CHECK(format_usd(1'500'000'000) == "$1.50");
  CHECK(format_usd(12'000) == "$0.000012");
  CHECK(format_usd(-1'000'000'000) == "-$1.00");
}

TEST_CASE("names parse: policies with their Lua aliases, privacy tags") {
  CHECK(parse_policy("price") == Policy::cheapest);
  CHECK(parse_policy("latency") == Policy::fastest);
  CHECK(parse_policy("reliability") == Policy::reliable);
  CHECK(parse_policy("cheapest") == Policy::cheapest);
  CHECK_FALSE(parse_policy("Cheapest"));
  CHECK(parse_privacy("no-log") == Privacy::no_log);
  CHECK(parse_privacy("tee") == Privacy::tee);
  CHECK(parse_privacy("local") == Privacy::local);
  CHECK_FALSE(parse_privacy("nolog"));
}

TEST_CASE("cheapest ranks by list price when there is no allowance") {
  HealthBook health;
  const auto candidates = three();
  const Ranking r = rank_candidates(candidates, call(), health, {}, 0);
  CHECK(order(r.ranked) == std::vector<std::string>{"groq", "together", "venice"});
  CHECK(r.ranked[0].worst_case == 1'000'000);
  CHECK(r.ranked[0].marginal == 1'000'000);
  CHECK(r.ranked[0].reason.find("worst case $0.001, paid") != std::string::npos);
  CHECK(r.rejected.empty());
}

TEST_CASE("cheapest prefers a provider today's allowance covers, then spills over") {
  HealthBook health;
  const auto candidates = three();
  SUBCASE("allowance covers the call: venice costs nothing at the margin") {
    const Ranking r =
        rank_candidates(candidates, call(), health, allowances({{"venice", 3'000'000}}), 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"venice", "groq", "together"});
    CHECK(r.ranked[0].marginal == 0);
    CHECK(r.ranked[0].worst_case == 3'000'000);
    CHECK(r.ranked[0].reason.find("$0 at the margin") != std::string::npos);
    CHECK(r.ranked[0].reason.find("covered by today's allowance ($0.003 left)") !=
          std::string::npos);
  }
  SUBCASE("allowance one nano short of the worst case: spills to the cheapest paid") {
    const Ranking r =
        rank_candidates(candidates, call(), health, allowances({{"venice", 2'999'999}}), 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"groq", "together", "venice"});
    CHECK(r.ranked[2].reason.find("does not cover it") != std::string::npos);
  }
  SUBCASE("several covered: the cheaper list price first, to save the allowance") {
    const Ranking r =
        rank_candidates(candidates, call(), health,
                        allowances({{"venice", 1'000'000'000}, {"together", 1'000'000'000}}), 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"together", "venice", "groq"});
  }
  SUBCASE("a negative allowance reads as none") {
    const Ranking r = rank_candidates(candidates, call(), health, allowances({{"venice", -5}}), 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"groq", "together", "venice"});
  }
}

TEST_CASE("spill-over follows the allowance as it is spent down") {
  HealthBook health;
  const auto candidates = three();
  Nanos left = 10'000'000;  // covers three venice calls at $0.003
  std::vector<std::string> chosen;
  for (int call_no = 0; call_no < 5; ++call_no) {
    const Ranking r =
        rank_candidates(candidates, call(), health, allowances({{"venice", left}}), 0);
    chosen.push_back(r.ranked.front().candidate.provider);
    if (r.ranked.front().marginal == 0) left -= r.ranked.front().worst_case;
  }
  CHECK(chosen == std::vector<std::string>{"venice", "venice", "venice", "groq", "groq"});
}

TEST_CASE("ties break by price, then health, then name, whatever the input order") {
  HealthBook health;
  std::vector<Candidate> candidates = {remote("b", 1, 1), remote("a", 1, 1), remote("c", 1, 1),
                                       remote("d", 0, 0)};
  SUBCASE("equal price and health: by name") {
    std::vector<std::string> first;
    std::sort(candidates.begin(), candidates.end(),
              [](const Candidate& x, const Candidate& y) { return x.provider < y.provider; });
    do {
      first = order(rank_candidates(candidates, call(), health, {}, 0).ranked);
      CHECK(first == std::vector<std::string>{"d", "a", "b", "c"});
    } while (std::next_permutation(
        candidates.begin(), candidates.end(),
        [](const Candidate& x, const Candidate& y) { return x.provider < y.provider; }));
  }
  SUBCASE("equal price: the healthier first") {
    health.record_success("c", {std::nullopt, 1000});
    health.record_failure("a", 0);
    CHECK(order(rank_candidates(candidates, call(), health, {}, 0).ranked) ==
          std::vector<std::string>{"d", "c", "b", "a"});
  }
}

TEST_CASE("fastest ranks by total time, or time to first token when streaming") {
  HealthBook health;
  const auto candidates = three();
  health.record_success("venice", {200'000, 900'000});
  health.record_success("together", {500'000, 600'000});
  // groq never observed: no evidence is not speed, so it goes last.
  RouteRequest request = call(Policy::fastest);
  Ranking r = rank_candidates(candidates, request, health, {}, 0);
  CHECK(order(r.ranked) == std::vector<std::string>{"together", "venice", "groq"});
  CHECK(r.ranked[0].reason.find("total time ~600 ms") == 0);
  CHECK(r.ranked[2].reason.find("no latency observed yet") == 0);
  request.streaming = true;
  r = rank_candidates(candidates, request, health, {}, 0);
  CHECK(order(r.ranked) == std::vector<std::string>{"venice", "together", "groq"});
  CHECK(r.ranked[0].reason.find("time to first token ~200 ms") == 0);
}

TEST_CASE("reliable ranks by recent success rate, price breaking ties") {
  HealthBook health;
  const auto candidates = three();
  for (int i = 0; i < 9; ++i) health.record_success("venice", {std::nullopt, 1});
  health.record_failure("venice", 0);
  for (int i = 0; i < 5; ++i) {  // alternating, so its breaker stays closed
    health.record_success("together", {std::nullopt, 1});
    health.record_failure("together", 0);
  }
  const Ranking r = rank_candidates(candidates, call(Policy::reliable), health, {}, 0);
  // venice 10/12 = 833, groq untried 500, together 6/12 = 500 but dearer than groq.
  CHECK(order(r.ranked) == std::vector<std::string>{"venice", "groq", "together"});
  // The reason tells the raw count, not the smoothed score it ranked by.
  CHECK(r.ranked[0].reason.find("9 of 10 recent calls succeeded") == 0);
}

TEST_CASE("each constraint rejects with a reason") {
  HealthBook health;
  std::vector<Candidate> candidates = three();
  candidates[0].tags.no_log = true;  // venice
  candidates[0].supports_tools = true;
  candidates[1].tags.tee = true;  // together
  candidates.push_back(local("ollama"));
  RouteRequest request = call();

  SUBCASE("max price (worst case)") {
    request.constraints.max_price = 2'000'000;
    const Ranking r = rank_candidates(candidates, request, health, {}, 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"ollama", "groq", "together"});
    CHECK(rejections(r)["venice"] == "worst case $0.003 exceeds the call's max price $0.002");
  }
  SUBCASE("max price applies to the list price even when the allowance covers it") {
    request.constraints.max_price = 2'000'000;
    const Ranking r =
        rank_candidates(candidates, request, health, allowances({{"venice", 1'000'000'000}}), 0);
    CHECK(rejections(r).count("venice") == 1);
  }
  SUBCASE("privacy tags") {
    request.constraints.privacy = Privacy::no_log;
    CHECK(order(rank_candidates(candidates, request, health, {}, 0).ranked) ==
          std::vector<std::string>{"venice"});
    request.constraints.privacy = Privacy::tee;
    const Ranking r = rank_candidates(candidates, request, health, {}, 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"together"});
    CHECK(rejections(r)["groq"] == "lacks the 'tee' privacy tag the call requires");
    request.constraints.privacy = Privacy::local;
    CHECK(order(rank_candidates(candidates, request, health, {}, 0).ranked) ==
          std::vector<std::string>{"ollama"});
  }
  SUBCASE("tools") {
    request.constraints.tools = true;
    const Ranking r = rank_candidates(candidates, request, health, {}, 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"venice"});
    CHECK(rejections(r)["groq"] == "does not support tool calls, which the call sends");
  }
  SUBCASE("allowed providers") {
    request.constraints.allowed = {"venice", "together"};
    const Ranking r = rank_candidates(candidates, request, health, {}, 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"together", "venice"});
    CHECK(rejections(r)["groq"] == "provider 'groq' is not in the call's allowed providers");
    CHECK(rejections(r).count("ollama") == 1);
    CHECK(r.local_fallback.empty());
  }
  SUBCASE("denied providers win over allowed ones") {
    request.constraints.allowed = {"venice", "together"};
    request.constraints.denied = {"together"};
    const Ranking r = rank_candidates(candidates, request, health, {}, 0);
    CHECK(order(r.ranked) == std::vector<std::string>{"venice"});
    CHECK(rejections(r)["together"] == "provider 'together' is denied by the call");
  }
  SUBCASE("a worst case out of range") {
    candidates[2].price = {INT64_MAX, INT64_MAX, 0};
    request.input_tokens = INT64_MAX;
    const Ranking r = rank_candidates(candidates, request, health, {}, 0);
    CHECK(rejections(r)["groq"].find("out of range") != std::string::npos);
  }
}

TEST_CASE("local candidates kept out only by the allowed list become the local fallback") {
  HealthBook health;
  std::vector<Candidate> candidates = three();
  candidates.push_back(local("ollama"));
  candidates.push_back(local("llamacpp"));
  candidates.back().supports_tools = true;
  RouteRequest request = call();
  request.constraints.allowed = {"groq"};
  request.local_fallback = true;
  Ranking r = rank_candidates(candidates, request, health, {}, 0);
  CHECK(order(r.ranked) == std::vector<std::string>{"groq"});
  CHECK(order(r.local_fallback) == std::vector<std::string>{"llamacpp", "ollama"});
  CHECK(r.local_fallback[0].reason.find("local fallback") == 0);
  // Every other constraint still applies to the fallback.
  request.constraints.tools = true;
  request.constraints.allowed = {"venice"};
  r = rank_candidates(candidates, request, health, {}, 0);
  CHECK(order(r.local_fallback) == std::vector<std::string>{"llamacpp"});
  CHECK(rejections(r).count("ollama") == 1);
}

TEST_CASE("an open circuit rejects its provider as unreachable; half-open ranks for a probe") {
  HealthBook health(HealthOptions{.failure_threshold = 1, .cooldown_ms = 1'000});
  const auto candidates = three();
  health.record_failure("groq", 0);
  Ranking r = rank_candidates(candidates, call(), health, {}, 500);
  CHECK(order(r.ranked) == std::vector<std::string>{"together", "venice"});
  REQUIRE(r.rejected.size() == 1);
  CHECK(r.rejected[0].unreachable);
  CHECK(r.rejected[0].reason == "circuit open after 1 consecutive failures; half-open in 1 s");
  r = rank_candidates(candidates, call(), health, {}, 1'000);
  CHECK(order(r.ranked) == std::vector<std::string>{"groq", "together", "venice"});
  CHECK(r.ranked[0].reason.find("circuit half-open: this call probes it") != std::string::npos);
  REQUIRE(health.admit("groq", 1'000) == Admission::probe);
  r = rank_candidates(candidates, call(), health, {}, 1'000);
  CHECK(rejections(r)["groq"] == "circuit half-open with its one probe already in flight");
}

TEST_CASE("CandidateTable maps a logical model to its candidates") {
  CandidateTable table;
  CHECK(table.add("llama-3.3-70b", remote("venice", 1, 1)).ok());
  CHECK(table.add("llama-3.3-70b", remote("groq", 1, 1)).ok());
  CHECK(table.add("qwen", local("ollama")).ok());
  const auto found = table.find("llama-3.3-70b");
  REQUIRE(found.ok());
  CHECK(found->size() == 2);
  CHECK(table.find("nope").error().kind == perdiem::ErrorKind::not_found);
  CHECK(table.add("llama-3.3-70b", remote("venice", 2, 2)).error().kind ==
        perdiem::ErrorKind::invalid_argument);
  CHECK_FALSE(table.add("x", remote("a", -1, 0)).ok());
  CHECK_FALSE(table.add("", remote("a", 1, 0)).ok());
  CHECK(table.models() == std::vector<std::string>{"llama-3.3-70b", "qwen"});
}
