#include <limits>

#include <doctest/doctest.h>

#include "wallet/prices.hpp"

using namespace perdiem::wallet;

TEST_CASE("cost is rounded up once per call, not per token class") {
  // 1 nano-USD per million tokens of each class: each class alone is 0.4 of a nano.
  Price p{1, 1, 1, 0};
  CHECK(cost_of(p, Usage{400'000, 400'000, 0}).value() == 1);  // 0.8 -> 1, not 1 + 1
  CHECK(cost_of(p, Usage{0, 0, 0}).value() == 0);
  CHECK(cost_of(p, Usage{1, 0, 0}).value() == 1);               // any fraction rounds up
  CHECK(cost_of(p, Usage{1'000'000, 0, 0}).value() == 1);       // exact stays exact
  CHECK(cost_of(p, Usage{1'000'001, 0, 0}).value() == 2);
}

TEST_CASE("cost of a typical call") {
  // $0.70 / $2.80 / $0.35 per million, plus $0.001 per request.
  Price p{700'000'000, 2'800'000'000, 350'000'000, 1'000'000};
  // 1000 uncached in, 200 cached in, 500 out:
  // 800*0.7e9 + 200*0.35e9 + 500*2.8e9 = 5.6e11 + 0.7e11 + 14e11 = 2.03e12 -> /1e6 = 2.03e6
  CHECK(cost_of(p, Usage{1000, 500, 200}).value() == 2'030'000 + 1'000'000);
  CHECK(worst_case_cost(p, 1000, 500).value() == 700'000 + 1'400'000 + 1'000'000);
}

TEST_CASE("cost rejects bad usage and overflow") {
  Price p{1, 1, 1, 0};
  CHECK(!cost_of(p, Usage{-1, 0, 0}).ok());
  CHECK(!cost_of(p, Usage{10, 0, 11}).ok());  // cached exceeds input
  CHECK(!cost_of(Price{-1, 0, 0, 0}, Usage{}).ok());
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  Price huge{kMax, kMax, kMax, 0};
  auto r = cost_of(huge, Usage{kMax, kMax, 0});  // ~2^126 / 1e6 does not fit
  CHECK(!r.ok());
  // Large but representable: no intermediate overflow in the 128-bit sum.
  Price big{kMax, 0, 0, 0};
  CHECK(cost_of(big, Usage{1'000'000, 0, 0}).value() == kMax);
  CHECK(!cost_of(Price{kMax, 0, 0, 1}, Usage{1'000'000, 0, 0}).ok());  // + per request
}

TEST_CASE("price sheets load from JSON with decimal strings") {
  auto sheet = PriceSheet::from_json_text(R"({"prices": [
    {"provider": "venice", "model": "llama-3.3-70b", "input": "0.70", "output": "2.80",
     "cached_input": "0.35", "request": "0.001"},
    {"provider": "venice", "model": "*", "input": "1", "output": "1"}]})");
  REQUIRE(sheet.ok());
  CHECK(sheet->size() == 2);
  auto p = sheet->find("venice", "llama-3.3-70b");
  REQUIRE(p.ok());
  CHECK(*p == Price{700'000'000, 2'800'000'000, 350'000'000, 1'000'000});
  CHECK(sheet->find("venice", "other").value() == Price{kNanosPerUsd, kNanosPerUsd, 0, 0});
  CHECK(sheet->find("groq", "x").error().kind == perdiem::ErrorKind::not_found);
  // Round trip through the display form.
  auto again = PriceSheet::from_json_text(sheet->to_json_text());
  REQUIRE(again.ok());
  CHECK(again->find("venice", "llama-3.3-70b").value() == *p);
}

TEST_CASE("price sheets reject numbers, duplicates and junk") {
  CHECK(!PriceSheet::from_json_text("nope").ok());
  CHECK(!PriceSheet::from_json_text(R"({"prices": [{"provider": "a", "model": "m", "input": 0.7}]})").ok());
  CHECK(!PriceSheet::from_json_text(R"({"prices": [{"provider": "a", "model": "m", "input": "-1"}]})").ok());
  CHECK(!PriceSheet::from_json_text(R"({"prices": [{"provider": "a", "model": "m"}, {"provider": "a", "model": "m"}]})").ok());
  CHECK(!PriceSheet::from_json_text(R"({"prices": [{"model": "m"}]})").ok());
  CHECK(PriceSheet::from_json_text(R"([])").ok());
}
