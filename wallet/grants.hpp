// Grants: how credits enter a wallet. A grant is a JSON document
//   {"issuer": "0x..", "holder": "0x..", "kind": "stake" | "usd", "amount": "2.5",
//    "providers": ["venice"] | ["*"], "not_before": 1735689600, "expires": 0,
//    "nonce": "fleet-7", "signature": "0x<130 hex>"}
// signed EIP-191 by the issuer over the canonical text grant_message() returns. The
// amount is a decimal string (credits for "stake", USD for "usd"), never a JSON number, so
// no double is ever involved. Times are Unix seconds; expires 0 means never.
//
// Canonical text (what a person sees in a signing wallet such as MetaMask):
//   perdiem grant v1
//   issuer: <EIP-55 address>
//   holder: <EIP-55 address>
//   kind: stake
//   amount: 2.5                      (format_usd: shortest exact decimal)
//   providers: openrouter, venice   (sorted, deduplicated; "*" for any provider)
//   not_before: 2025-01-01T00:00:00Z
//   expires: never | <ISO 8601 UTC>
//   nonce: fleet-7
// Every field is validated to a small alphabet, so no field can inject a line.
// Revocations use the same scheme (revocation_message()).
//
// Everything here is pure: parsing, canonical text, signing, signature checks. Trust,
// holder, validity and replay are the Wallet's checks (it has the config and the store).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/keys.hpp"
#include "wallet/money.hpp"

namespace perdiem::wallet {

enum class GrantKind { stake, usd };
std::string_view to_string(GrantKind kind);

struct Grant {
  Address issuer;
  Address holder;
  GrantKind kind = GrantKind::usd;
  Nanos amount = 0;  // nano-credits for stake, nano-USD for usd; always > 0
  std::vector<std::string> providers{"*"};  // sorted, unique; {"*"} pays for any
  std::int64_t not_before = 0;  // Unix seconds
  std::int64_t expires = 0;     // Unix seconds, exclusive; 0 = never
  std::string nonce;
  Signature signature{};
};

struct Revocation {
  Address issuer;
  Address holder;
  std::string nonce;  // the nonce of the grant revoked
  Signature signature{};
};

// Limits for parsing untrusted documents.
inline constexpr std::size_t kMaxGrantBytes = 16 * 1024;
inline constexpr std::size_t kMaxGrantProviders = 64;

// Parses and validates the shape of a grant (addresses, kind, a positive amount, providers,
// times, nonce, a 65-byte signature). Does not check the signature. invalid_argument with
// the offending field named on any problem. Pure; safe on any input (fuzzed).
Result<Grant> parse_grant(std::string_view json);
std::string grant_to_json(const Grant& grant);
std::string grant_message(const Grant& grant);
// Sets grant.issuer to the key's address and signs the canonical message.
Grant sign_grant(Grant grant, const PrivateKey& issuer_key);
// auth error unless the signature recovers to grant.issuer.
[[nodiscard]] Status check_grant_signature(const Grant& grant);

Result<Revocation> parse_revocation(std::string_view json);
std::string revocation_to_json(const Revocation& revocation);
std::string revocation_message(const Revocation& revocation);
Revocation sign_revocation(Revocation revocation, const PrivateKey& issuer_key);
[[nodiscard]] Status check_revocation_signature(const Revocation& revocation);

// True when a scope (a grant's providers) pays for `provider`.
bool scope_covers(const std::vector<std::string>& providers, std::string_view provider);
// Provider ids and nonces: 1-128 bytes of [A-Za-z0-9._:/@+-].
bool valid_identifier(std::string_view text);

}  // namespace perdiem::wallet
