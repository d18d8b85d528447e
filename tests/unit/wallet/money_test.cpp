#include <limits>

#include <doctest/doctest.h>

#include "wallet/money.hpp"

using namespace perdiem::wallet;

TEST_CASE("parse_usd reads decimal dollars exactly") {
  CHECK(parse_usd("2.5").value() == 2'500'000'000);
  CHECK(parse_usd("0.25").value() == 250'000'000);
  CHECK(parse_usd("10").value() == 10'000'000'000);
  CHECK(parse_usd("0").value() == 0);
  CHECK(parse_usd("$1.50").value() == 1'500'000'000);
  CHECK(parse_usd("0.000000001").value() == 1);
  CHECK(parse_usd("0.1").value() == 100'000'000);  // no 0.1-as-double drift
  CHECK(parse_usd("007.10").value() == 7'100'000'000);
  CHECK(parse_usd("1.0000000000000").value() == kNanosPerUsd);  // zeros past nano are exact
  CHECK(parse_usd("9223372036.854775807").value() == std::numeric_limits<Nanos>::max());
}

TEST_CASE("parse_usd rejects what it cannot represent exactly") {
  for (const char* bad : {"", "$", ".", "1.", ".5", "-1", "+1", "1e3", " 1", "1 ", "1,5",
                          "0.0000000001", "1.2.3", "abc", "9223372036.854775808",
                          "99999999999999999999", "0x10", "１"}) {
    auto r = parse_usd(bad);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.error().kind == perdiem::ErrorKind::invalid_argument);
  }
}

TEST_CASE("format_usd is the shortest exact decimal and round-trips") {
  CHECK(format_usd(2'500'000'000) == "2.5");
  CHECK(format_usd(0) == "0");
  CHECK(format_usd(1) == "0.000000001");
  CHECK(format_usd(10'000'000'000) == "10");
  CHECK(format_usd(-2'500'000'000) == "-2.5");
  CHECK(format_usd(std::numeric_limits<Nanos>::min()) == "-9223372036.854775808");
  for (Nanos v : {Nanos{0}, Nanos{1}, Nanos{999'999'999}, Nanos{1'000'000'001},
                  Nanos{123'456'789'012}, std::numeric_limits<Nanos>::max()})
    CHECK(parse_usd(format_usd(v)).value() == v);
}

TEST_CASE("format_usd_display shows cents and every significant digit") {
  CHECK(format_usd_display(2'500'000'000) == "$2.50");
  CHECK(format_usd_display(0) == "$0.00");
  CHECK(format_usd_display(123'000) == "$0.000123");
  CHECK(format_usd_display(-1'000'000'000) == "-$1.00");
}

TEST_CASE("checked arithmetic reports overflow") {
  CHECK(checked_add(1, 2).value() == 3);
  CHECK(!checked_add(std::numeric_limits<Nanos>::max(), 1));
  CHECK(!checked_sub(std::numeric_limits<Nanos>::min(), 1));
}
