// The compact form a tab's receipt is kept in (tab_receipts.receipt, a BLOB). A receipt's
// JSON is about 720 bytes, most of it names, quotes and hex; the same receipt packed is
// about 330. Writing JSON for every metered call was a third of the tab closer's work and
// its row half of the wallet writer's, so receipts are packed when stored and turned into
// JSON only when someone reads them (receipt_to_json of the unpacked receipt is the JSON
// that would have been stored).
//
// Layout (every integer big-endian):
//   format (1 byte: 1) | the receipt's fields exactly as append_receipt_leaf_bytes lays
//   them out (the version 2 Merkle leaf's content) | batch version (1 byte: 2) |
//   u32 index | u32 size | root (32 bytes) | u8 proof length (at most 32) | proof hashes
//   (32 bytes each) | signature (65 bytes)
// Only receipts of version 2 batches are packed: the fields' layout is version 2's leaf.
// Anything else (a single receipt, a version 1 batch) keeps its JSON, which readers still
// take: a TEXT value is JSON, a BLOB is this form.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "perdiem/error.hpp"
#include "wallet/receipts.hpp"

namespace perdiem::wallet {

namespace sql {
class Stmt;
}

inline constexpr std::uint8_t kStoredReceiptFormat = 1;

// True when `receipt` can be packed: it is in a version 2 batch.
bool packable(const Receipt& receipt);
// The packed bytes of a packable receipt (the caller checks packable()).
std::string pack_receipt(const Receipt& receipt);
// The receipt packed in `bytes`, validated as parse_receipt validates JSON (identifiers,
// non-negative counts, a place inside the batch); a storage error naming what is wrong
// when the bytes are not a whole packed receipt. Pure; fuzzed.
Result<Receipt> unpack_receipt(std::span<const std::uint8_t> bytes);
// The receipt in `column` of the statement's current row: packed (a BLOB) or JSON.
Result<Receipt> read_stored_receipt(const sql::Stmt& stmt, int column);

}  // namespace perdiem::wallet
