// The scan every JSON string escaper in perdiem starts with: how many bytes of a text can
// be copied into a JSON string as they are. Trace rows, receipts and ledger entries run
// every model call's text through an escaper, and almost all of it needs no escape, so
// the scan reads eight bytes at a time. Each escaper keeps its own escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace perdiem::base {

namespace json_plain_detail {

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

// Nonzero when some byte of `word` is zero. Exact about whether one is; which byte it
// flags may be wrong (a borrow), so the caller looks byte by byte afterwards.
constexpr std::uint64_t has_zero_byte(std::uint64_t word) { return (word - kOnes) & ~word & kHighs; }

// Nonzero when some byte of `word` is below `n` (n <= 128), with the same caveat.
constexpr std::uint64_t has_byte_below(std::uint64_t word, std::uint64_t n) {
  return (word - kOnes * n) & ~word & kHighs;
}

constexpr bool plain_byte(unsigned char c, bool ascii_only) {
  return c >= 0x20 && c != '"' && c != '\\' && (!ascii_only || c < 0x80);
}

}  // namespace json_plain_detail

// The length of the longest prefix of `text` with no '"', no '\\' and no control byte
// (below 0x20), and, when `ascii_only`, no byte from 0x80 up (an escaper that validates
// UTF-8 stops there).
inline std::size_t json_plain_prefix(std::string_view text, bool ascii_only) {
  using namespace json_plain_detail;
  const std::size_t size = text.size();
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    const std::uint64_t special = has_byte_below(word, 0x20) |
                                  has_zero_byte(word ^ (kOnes * '"')) |
                                  has_zero_byte(word ^ (kOnes * '\\')) |
                                  (ascii_only ? word & kHighs : 0);
    if (special != 0) break;
  }
  while (i < size && plain_byte(static_cast<unsigned char>(text[i]), ascii_only)) ++i;
  return i;
}

}  // namespace perdiem::base
