#include "wallet/money.hpp"

#include <limits>

namespace perdiem::wallet {
namespace {

Error bad_amount(std::string_view text, std::string_view why) {
  std::string shown(text.substr(0, 64));
  return make_error(ErrorKind::invalid_argument,
                    "invalid amount '" + shown + "': " + std::string(why));
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

Result<Nanos> parse_usd(std::string_view text) {
  std::string_view rest = text;
  if (!rest.empty() && rest.front() == '$') rest.remove_prefix(1);
  if (rest.empty()) return bad_amount(text, "expected a decimal number such as 2.5");

  std::size_t dot = rest.find('.');
  std::string_view whole = rest.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  if (whole.empty()) return bad_amount(text, "expected a digit before '.'");
  if (dot != std::string_view::npos && fraction.empty())
    return bad_amount(text, "expected a digit after '.'");
  for (char c : whole)
    if (!is_digit(c)) return bad_amount(text, "expected a decimal number such as 2.5");
  for (char c : fraction)
    if (!is_digit(c)) return bad_amount(text, "expected a decimal number such as 2.5");

  // Whole dollars, accumulated with an overflow check against the int64 ceiling.
  constexpr Nanos kMax = std::numeric_limits<Nanos>::max();
  constexpr Nanos kMaxWhole = kMax / kNanosPerUsd;
  Nanos dollars = 0;
  for (char c : whole) {
    if (dollars > kMaxWhole / 10 + 1) return bad_amount(text, "too large");
    dollars = dollars * 10 + (c - '0');
    if (dollars > kMaxWhole) return bad_amount(text, "too large");
  }
  Nanos nanos = 0;
  for (std::size_t i = 0; i < fraction.size(); ++i) {
    int digit = fraction[i] - '0';
    if (i < 9) {
      nanos = nanos * 10 + digit;
    } else if (digit != 0) {
      return bad_amount(text, "more precise than a nano-dollar (at most 9 decimals)");
    }
  }
  for (std::size_t i = fraction.size(); i < 9; ++i) nanos *= 10;

  Nanos base = dollars * kNanosPerUsd;
  if (nanos > kMax - base) return bad_amount(text, "too large");
  return base + nanos;
}

std::string format_usd(Nanos amount) {
  // Work in unsigned so INT64_MIN has a magnitude.
  bool negative = amount < 0;
  std::uint64_t magnitude = negative ? 0 - static_cast<std::uint64_t>(amount)
                                     : static_cast<std::uint64_t>(amount);
  std::uint64_t dollars = magnitude / kNanosPerUsd;
  std::uint64_t nanos = magnitude % kNanosPerUsd;
  std::string out = negative ? "-" : "";
  out += std::to_string(dollars);
  if (nanos != 0) {
    std::string digits = std::to_string(nanos);
    digits.insert(0, 9 - digits.size(), '0');
    while (digits.back() == '0') digits.pop_back();
    out += '.';
    out += digits;
  }
  return out;
}

std::string format_usd_display(Nanos amount) {
  std::string exact = format_usd(amount);
  bool negative = !exact.empty() && exact.front() == '-';
  if (negative) exact.erase(0, 1);
  std::size_t dot = exact.find('.');
  if (dot == std::string::npos) {
    exact += ".00";
  } else if (exact.size() - dot - 1 < 2) {
    exact.append(2 - (exact.size() - dot - 1), '0');
  }
  return (negative ? "-$" : "$") + exact;
}

std::optional<Nanos> checked_add(Nanos a, Nanos b) {
  Nanos out;
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

std::optional<Nanos> checked_sub(Nanos a, Nanos b) {
  Nanos out;
  if (__builtin_sub_overflow(a, b, &out)) return std::nullopt;
  return out;
}

}  // namespace perdiem::wallet
