// secp256k1 keys, EVM addresses and EIP-191 `personal_sign` signatures.
//
// The address is Keccak-256 of the uncompressed public key (without the 0x04 prefix),
// last 20 bytes, shown with the EIP-55 checksum. Messages are signed as EIP-191:
// keccak256("\x19Ethereum Signed Message:\n" + decimal(len) + message), RFC 6979 nonces,
// 65 bytes r || s || v with v in {27, 28} and s in the lower half (as EVM tooling does).
// Thread-safety: all functions are safe to call concurrently; PrivateKey is move-only.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"

namespace perdiem::wallet {

using Hash32 = std::array<std::uint8_t, 32>;
using Signature = std::array<std::uint8_t, 65>;

// Ethereum's Keccak-256 (the original Keccak padding, not NIST SHA3-256).
Hash32 keccak256(std::string_view bytes);
Hash32 keccak256(std::span<const std::uint8_t> bytes);
// keccak256 of the EIP-191 envelope of `message`.
Hash32 eip191_hash(std::string_view message);

struct Address {
  std::array<std::uint8_t, 20> bytes{};

  // "0x" + 40 hex digits with the EIP-55 mixed-case checksum.
  std::string to_string() const;
  // Accepts "0x"-prefixed 40 hex digits. All-lowercase or all-uppercase input is taken
  // as is; mixed case must carry a valid EIP-55 checksum (a typo is caught, not signed to).
  // Fails with kind invalid_argument; the message never echoes `text` (it may be a
  // private key pasted into the wrong field).
  static Result<Address> parse(std::string_view text);
  friend bool operator==(const Address&, const Address&) = default;
};

class PrivateKey {
 public:
  // A fresh key from libsodium's CSPRNG (retried until it is a valid secp256k1 scalar).
  static PrivateKey generate();
  // 32 bytes as 64 hex digits, optional "0x", surrounding whitespace ignored. Fails with
  // kind invalid_argument (and never echoes the input) when malformed or out of range.
  static Result<PrivateKey> from_hex(std::string_view hex);
  // Exactly 32 bytes, big-endian, in [1, n-1]. Same error contract as from_hex.
  static Result<PrivateKey> from_bytes(std::span<const std::uint8_t> bytes);

  PrivateKey(PrivateKey&&) noexcept = default;
  PrivateKey& operator=(PrivateKey&&) noexcept = default;

  const Address& address() const { return address_; }
  // The EIP-191 signature of `message`, deterministic for a given key and message.
  Signature sign_message(std::string_view message) const;
  // The 32 secret bytes, in locked memory (for the keystore only).
  const base::SecureBuffer& secret() const { return secret_; }

 private:
  PrivateKey(base::SecureBuffer secret, Address address)
      : secret_(std::move(secret)), address_(address) {}
  base::SecureBuffer secret_;
  Address address_;
};

// Recovers the address that produced an EIP-191 signature of `message`. Fails with kind
// invalid_argument when v is not 27 or 28, s is in the upper half of the curve order
// (the malleable twin of a valid signature), or r, s do not form a recoverable signature.
Result<Address> recover_message_signer(std::string_view message, const Signature& signature);
// True when `signature` is a valid EIP-191 signature of `message` by `signer`.
[[nodiscard]] bool verify_message(const Address& signer, std::string_view message,
                                  const Signature& signature);

// "0x" + 130 lowercase hex digits, as EVM tooling prints signatures.
std::string signature_to_hex(const Signature& signature);
// 130 hex digits, optional "0x". Syntax only: v and s are checked by recovery.
Result<Signature> signature_from_hex(std::string_view hex);

}  // namespace perdiem::wallet
