#include "wallet/keys.hpp"

#include <cryptopp/keccak.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

#include "wallet/hex.hpp"

namespace perdiem::wallet {
namespace {

constexpr std::size_t kSecretBytes = 32;

// One context for the whole process, created on first use (thread-safe static init) and
// never destroyed, so no use can outlive it at exit. After randomization it is only
// read, which libsecp256k1 allows from any number of threads at once.
const secp256k1_context* context() {
  static const secp256k1_context* const ctx = [] {
    if (sodium_init() < 0) std::abort();
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (c == nullptr) std::abort();
    // Blinding against side channels while signing; the seed is secret, then wiped.
    unsigned char seed[32];
    randombytes_buf(seed, sizeof seed);
    const int ok = secp256k1_context_randomize(c, seed);
    sodium_memzero(seed, sizeof seed);
    if (ok != 1) std::abort();
    return c;
  }();
  return ctx;
}

Address address_of(const secp256k1_pubkey& pubkey) {
  std::uint8_t serialized[65];
  size_t size = sizeof serialized;
  secp256k1_ec_pubkey_serialize(context(), serialized, &size, &pubkey, SECP256K1_EC_UNCOMPRESSED);
  // Skip the 0x04 prefix; the address is the last 20 bytes of the hash.
  const Hash32 hash = keccak256(std::span<const std::uint8_t>(serialized + 1, 64));
  Address address;
  std::copy(hash.begin() + 12, hash.end(), address.bytes.begin());
  return address;
}

Error bad_key() {
  return make_error(ErrorKind::invalid_argument,
                    "private key must be 32 bytes (64 hex digits) in the secp256k1 range");
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

}  // namespace

Hash32 keccak256(std::span<const std::uint8_t> bytes) {
  CryptoPP::Keccak_256 keccak;
  keccak.Update(bytes.data(), bytes.size());
  Hash32 out;
  keccak.Final(out.data());
  return out;
}

Hash32 keccak256(std::string_view bytes) {
  return keccak256(std::span<const std::uint8_t>(
      reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Hash32 eip191_hash(std::string_view message) {
  // "\031" is 0x19 (octal, so the 'E' after it cannot extend the escape as hex would).
  const std::string header = "\031Ethereum Signed Message:\n" + std::to_string(message.size());
  CryptoPP::Keccak_256 keccak;
  keccak.Update(reinterpret_cast<const CryptoPP::byte*>(header.data()), header.size());
  keccak.Update(reinterpret_cast<const CryptoPP::byte*>(message.data()), message.size());
  Hash32 out;
  keccak.Final(out.data());
  return out;
}

std::string Address::to_string() const {
  // Each settled call prints the wallet's own address twice (receipt message and JSON):
  // remember the last one per thread rather than hash it again.
  thread_local Address last;
  thread_local std::string last_text;
  if (!last_text.empty() && last == *this) return last_text;
  // EIP-55: a letter is uppercase when the matching nibble of keccak256(lowercase hex)
  // is 8 or more.
  std::string hex = hex_encode(bytes);
  const Hash32 hash = keccak256(std::string_view(hex));
  for (std::size_t i = 0; i < hex.size(); ++i) {
    const int nib = (i % 2 == 0) ? (hash[i / 2] >> 4) : (hash[i / 2] & 0x0f);
    if (hex[i] >= 'a' && nib >= 8) hex[i] = static_cast<char>(hex[i] - 'a' + 'A');
  }
  last = *this;
  last_text = "0x" + hex;
  return last_text;
}

Result<Address> Address::parse(std::string_view text) {
  // The input is never echoed: it may be a secret pasted into the wrong place.
  if (text.size() != 42 || text[0] != '0' || text[1] != 'x') {
    return make_error(ErrorKind::invalid_argument,
                      "an address is 0x followed by 40 hex digits (got " +
                          std::to_string(text.size()) + " characters)");
  }
  const std::string_view digits = text.substr(2);
  Address address;
  if (!hex_decode_into(digits, address.bytes)) {
    return make_error(ErrorKind::invalid_argument,
                      "an address is 0x followed by 40 hex digits (found a non-hex character)");
  }
  bool has_lower = false;
  bool has_upper = false;
  for (char c : digits) {
    has_lower |= (c >= 'a' && c <= 'f');
    has_upper |= (c >= 'A' && c <= 'F');
  }
  if (has_lower && has_upper && address.to_string() != text) {
    return make_error(ErrorKind::invalid_argument,
                      "address has an invalid EIP-55 checksum: check it for a typo");
  }
  return address;
}

PrivateKey PrivateKey::generate() {
  base::SecureBuffer secret = base::SecureBuffer::zeroed(kSecretBytes);
  // Fails with probability about 2^-128 per draw (a value >= n or zero).
  do {
    randombytes_buf(secret.data(), secret.size());
  } while (secp256k1_ec_seckey_verify(context(), secret.data()) != 1);
  auto key = from_bytes(secret.bytes());
  if (!key.ok()) std::abort();  // unreachable: the scalar was just verified
  return std::move(key).value();
}

Result<PrivateKey> PrivateKey::from_hex(std::string_view hex) {
  base::SecureBuffer secret = base::SecureBuffer::zeroed(kSecretBytes);
  if (!hex_decode_into(strip_0x(trim(hex)), {secret.data(), secret.size()})) return bad_key();
  return from_bytes(secret.bytes());
}

Result<PrivateKey> PrivateKey::from_bytes(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kSecretBytes) return bad_key();
  base::SecureBuffer secret(bytes);
  secp256k1_pubkey pubkey;
  if (secp256k1_ec_seckey_verify(context(), secret.data()) != 1 ||
      secp256k1_ec_pubkey_create(context(), &pubkey, secret.data()) != 1) {
    return bad_key();
  }
  return PrivateKey(std::move(secret), address_of(pubkey));
}

Signature PrivateKey::sign_message(std::string_view message) const {
  if (secret_.size() != kSecretBytes) std::abort();  // used after being moved from
  const Hash32 digest = eip191_hash(message);
  secp256k1_ecdsa_recoverable_signature sig;
  // nullptr nonce function: RFC 6979, so the signature is deterministic and matches
  // other RFC 6979 signers. libsecp256k1 always produces a lower-half s.
  if (secp256k1_ecdsa_sign_recoverable(context(), &sig, digest.data(), secret_.data(), nullptr,
                                       nullptr) != 1) {
    std::abort();  // only fails for an invalid secret, which from_bytes rules out
  }
  Signature out;
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), out.data(), &recid, &sig);
  out[64] = static_cast<std::uint8_t>(27 + recid);
  return out;
}

Result<Address> recover_message_signer(std::string_view message, const Signature& signature) {
  const int v = signature[64];
  if (v != 27 && v != 28) {
    return make_error(ErrorKind::invalid_argument,
                      "signature v must be 27 or 28 (got " + std::to_string(v) + ")");
  }
  secp256k1_ecdsa_recoverable_signature sig;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(context(), &sig, signature.data(),
                                                          v - 27) != 1) {
    return make_error(ErrorKind::invalid_argument, "signature r or s is out of range");
  }
  // Reject the high-s twin, as EVM tooling does (EIP-2): normalize reports whether it
  // had to change anything.
  secp256k1_ecdsa_signature plain;
  secp256k1_ecdsa_recoverable_signature_convert(context(), &plain, &sig);
  if (secp256k1_ecdsa_signature_normalize(context(), nullptr, &plain) == 1) {
    return make_error(ErrorKind::invalid_argument,
                      "signature s is in the upper half of the curve order (malleable)");
  }
  const Hash32 digest = eip191_hash(message);
  secp256k1_pubkey pubkey;
  if (secp256k1_ecdsa_recover(context(), &pubkey, &sig, digest.data()) != 1) {
    return make_error(ErrorKind::invalid_argument, "signature does not recover to a public key");
  }
  return address_of(pubkey);
}

bool verify_message(const Address& signer, std::string_view message, const Signature& signature) {
  const auto recovered = recover_message_signer(message, signature);
  return recovered.ok() && recovered.value() == signer;
}

std::string signature_to_hex(const Signature& signature) {
  return "0x" + hex_encode(signature);
}

Result<Signature> signature_from_hex(std::string_view hex) {
  Signature signature;
  if (!hex_decode_into(strip_0x(hex), signature)) {
    return make_error(ErrorKind::invalid_argument,
                      "a signature is 130 hex digits (65 bytes r, s, v), optionally after 0x");
  }
  return signature;
}

}  // namespace perdiem::wallet
