#include "wallet/hex.hpp"

#include <algorithm>

namespace perdiem::wallet {
namespace {

// The value of hex digit `c` (0..15), or a value with bit 8 set when `c` is not a hex
// digit. No branch or table depends on `c`, so decoding a secret leaks nothing through
// timing (the technique of libsodium's sodium_hex2bin).
unsigned nibble(unsigned char c) {
  const unsigned c_num = c ^ 48U;              // '0'..'9' -> 0..9
  const unsigned c_num0 = (c_num - 10U) >> 8;  // 0x00ffffff when c_num < 10, else 0
  const unsigned c_alpha = (c & ~32U) - 55U;   // 'A'..'F', 'a'..'f' -> 10..15
  const unsigned c_alpha0 = ((c_alpha - 10U) ^ (c_alpha - 16U)) >> 8;
  const unsigned valid = c_num0 | c_alpha0;  // 0x00ffffff for a hex digit, else 0
  const unsigned value = (c_num0 & c_num) | (c_alpha0 & c_alpha);
  return (value & 0x0fU) | (~valid & 0x100U);
}

}  // namespace

std::string hex_encode(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  // Sized once and written by index: receipts hex-encode several hashes per call.
  std::string out(bytes.size() * 2, '\0');
  char* at = out.data();
  for (std::uint8_t b : bytes) {
    *at++ = kDigits[b >> 4];
    *at++ = kDigits[b & 0x0f];
  }
  return out;
}

bool hex_decode_into(std::string_view hex, std::span<std::uint8_t> out) {
  if (hex.size() != out.size() * 2) {
    std::fill(out.begin(), out.end(), std::uint8_t{0});
    return false;
  }
  unsigned bad = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const unsigned hi = nibble(static_cast<unsigned char>(hex[2 * i]));
    const unsigned lo = nibble(static_cast<unsigned char>(hex[2 * i + 1]));
    bad |= (hi | lo) & 0x100U;
    out[i] = static_cast<std::uint8_t>(((hi & 0x0fU) << 4) | (lo & 0x0fU));
  }
  if (bad != 0) {
    std::fill(out.begin(), out.end(), std::uint8_t{0});
    return false;
  }
  return true;
}

std::optional<std::vector<std::uint8_t>> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(hex.size() / 2);
  if (!hex_decode_into(hex, out)) return std::nullopt;
  return out;
}

std::string_view strip_0x(std::string_view text) {
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
  }
  return text;
}

}  // namespace perdiem::wallet
