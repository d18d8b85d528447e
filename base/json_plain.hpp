// JSON string escaping for the text perdiem writes on every model call (trace rows,
// receipts, ledger entries, the documents the call hashes cover). Almost all of it needs
// no escape, so the scan for what does reads eight bytes at a time, and the runs between
// are appended whole.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
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

// How a control byte is escaped. `dump` as nlohmann::json::dump() does (\b \f \n \r \t,
// the rest \u00XX): the trace's text and the documents the call hashes cover. `ledger`
// as the ledger's canonical form has always done (\n \r \t only): it feeds stored,
// signed hashes, so it never changes.
enum class ControlEscapes { dump, ledger };

// One byte json_plain_prefix stops at ('"', '\\' or a control byte), escaped.
inline void append_json_escape(std::string& out, unsigned char c, ControlEscapes style) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool dump = style == ControlEscapes::dump;
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\b':
      if (dump) {
        out += "\\b";
        return;
      }
      break;
    case '\f':
      if (dump) {
        out += "\\f";
        return;
      }
      break;
    default: break;
  }
  out += "\\u00";
  out += kHex[c >> 4];
  out += kHex[c & 0xf];
}

// Appends `text` escaped (no quotes around it). With `ascii_only` it stops at the first
// byte from 0x80 up and returns false, having appended part of the text: a caller that
// validates UTF-8 starts over its own way. Bytes from 0x80 up otherwise pass through.
inline bool append_json_escaped(std::string& out, std::string_view text, bool ascii_only,
                                ControlEscapes style) {
  for (std::size_t i = 0;;) {
    const std::size_t plain = json_plain_prefix(text.substr(i), ascii_only);
    out.append(text.data() + i, plain);
    i += plain;
    if (i == text.size()) return true;
    const auto c = static_cast<unsigned char>(text[i++]);
    if (c >= 0x80) return false;
    append_json_escape(out, c, style);
  }
}

}  // namespace perdiem::base
