// Hexadecimal encoding for hashes, addresses, signatures and keystore fields.
//
// Decoding is strict: exactly two hex digits per byte, either case, no prefix, no
// whitespace (strip "0x" with strip_0x first). It runs in time independent of the digit
// values, so it may decode secrets (a private key) straight into locked memory.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace perdiem::wallet {

// Lowercase hex digits, no prefix.
std::string hex_encode(std::span<const std::uint8_t> bytes);

// Decodes `hex` into exactly `out.size()` bytes. Returns false, and zeroes `out`, when
// `hex` is not exactly 2 * out.size() hex digits.
[[nodiscard]] bool hex_decode_into(std::string_view hex, std::span<std::uint8_t> out);

// Decodes any even number of hex digits; nullopt when malformed.
std::optional<std::vector<std::uint8_t>> hex_decode(std::string_view hex);

// `text` without a leading "0x" or "0X" (unchanged when there is none).
std::string_view strip_0x(std::string_view text);

}  // namespace perdiem::wallet
