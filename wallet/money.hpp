// Money is an integer: nano-USD in an int64 (1 USD = 1,000,000,000). No floating point
// anywhere a price, a cost or a balance passes. A staked credit is counted in the same
// unit (1 nano-credit grants 1 nano-USD of allowance per UTC day).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"

namespace perdiem::wallet {

using Nanos = std::int64_t;

inline constexpr Nanos kNanosPerUsd = 1'000'000'000;

// Parses a non-negative decimal amount of USD (or credits) exactly: "2.5", "0.25", "10",
// "$1.50", "0.000000001". At most nine significant fraction digits (further digits must
// be zeros). Rejects signs, exponents, whitespace, a bare or trailing '.', empty input
// and anything above INT64_MAX nanos, with an invalid_argument error naming the input.
Result<Nanos> parse_usd(std::string_view text);

// The shortest exact decimal form: 2'500'000'000 -> "2.5", 0 -> "0", 1 -> "0.000000001",
// negative amounts with a leading '-'. parse_usd(format_usd(x)) == x for every x >= 0.
std::string format_usd(Nanos amount);

// For people: "$2.50", "$0.000123", "-$1.00" (at least two decimals, never rounded).
std::string format_usd_display(Nanos amount);

// Overflow-checked arithmetic: nullopt when the result leaves int64.
std::optional<Nanos> checked_add(Nanos a, Nanos b);
std::optional<Nanos> checked_sub(Nanos a, Nanos b);

}  // namespace perdiem::wallet
