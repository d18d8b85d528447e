// Shared helpers for the wallet's signed JSON documents (grants, revocations, receipts):
// bounded, exception-free parsing of untrusted input and typed field access whose errors
// name the document and the field. Internal to the wallet.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "wallet/keys.hpp"

namespace perdiem::wallet::doc_json {

inline constexpr int kMaxDepth = 8;

// A JSON object of at most `max_bytes` bytes and kMaxDepth nesting; `what` names the
// document in errors ("grant"). Never throws.
Result<nlohmann::json> parse_object(std::string_view text, std::size_t max_bytes,
                                    std::string_view what);
Result<std::string> string_field(const nlohmann::json& doc, const char* name,
                                 std::string_view what);
Result<std::int64_t> int_field(const nlohmann::json& doc, const char* name,
                               std::string_view what);
Result<Address> address_field(const nlohmann::json& doc, const char* name,
                              std::string_view what);
// The "signature" field: "0x" + 130 hex digits.
Result<Signature> signature_field(const nlohmann::json& doc, std::string_view what);
Result<Hash32> hash_field(const nlohmann::json& doc, const char* name, std::string_view what);

// "0x" + 64 lowercase hex digits, and back.
std::string hash_to_hex(const Hash32& hash);
// The same appended to `out`, for receipts written on every call.
void append_hash_hex(std::string& out, const Hash32& hash);
Result<Hash32> hash_from_hex(std::string_view text);

}  // namespace perdiem::wallet::doc_json
