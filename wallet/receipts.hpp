// Receipts: every settled call yields one, signed by the wallet's key (EIP-191), so anyone
// with the wallet's address can check what a call cost and why.
//
// JSON form:
//   {"id": "42", "wallet": "0x..", "status": "final" | "estimate", "run": "..",
//    "step": 3, "provider": "venice", "model": "llama-3.3-70b",
//    "input_tokens": 1200, "output_tokens": 300, "cached_input_tokens": 0,
//    "prices": {"input": "0.7", "output": "2.8", "cached_input": "0.35", "request": "0"},
//    "cost": "0.00168", "time": 1735689600123,
//    "request_hash": "0x<64 hex>", "response_hash": "0x<64 hex>",
//    "batch": {"version": 2, "root": "0x<64 hex>", "index": 3, "size": 200,
//              "proof": ["0x<64 hex>", ..]},
//    "signature": "0x<130 hex>"}
// "batch" is present only on a receipt signed in a batch (see receipt_batch.hpp); its
// signature is then over the batch's root, which the receipt reaches through its proof.
// A batch without "version" is version 1 (as batches were first written).
// Money fields are decimal USD strings (prices per million tokens), time is Unix ms.
// The signed canonical text is receipt_message(): one "name: value" line per field in the
// fixed order above, money in nano-USD integers, beginning "perdiem receipt v1".
// Text fields (run, provider, model) are restricted to valid_identifier() characters
// (plus run/model may be empty) so that no field can forge another line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"
#include "wallet/keys.hpp"
#include "wallet/money.hpp"
#include "wallet/prices.hpp"
#include "wallet/receipt_batch.hpp"

namespace perdiem::wallet {

struct Receipt {
  std::string id;  // the reservation id, decimal; unique within a wallet
  Address wallet;  // the signer
  bool final = true;  // false: cost estimated from a broken stream, awaiting reconcile
  std::string run;
  std::int64_t step = 0;
  std::string provider;
  std::string model;
  Usage usage;
  Price prices;
  Nanos cost = 0;
  std::int64_t time_ms = 0;
  Hash32 request_hash{};
  Hash32 response_hash{};
  // Set for a receipt signed in a batch (receipt_batch.hpp): `signature` is then the
  // batch's, over its root, and the proof ties this receipt to that root.
  std::optional<ReceiptBatch> batch;
  Signature signature{};
};

inline constexpr std::size_t kMaxReceiptBytes = 16 * 1024;

// Parses the JSON form; validates shape only (not the signature). Pure; fuzzed.
Result<Receipt> parse_receipt(std::string_view json);
std::string receipt_to_json(const Receipt& receipt);
std::string receipt_message(const Receipt& receipt);
// The same appended to `out` (the Merkle leaf prefixes it with a byte).
void append_receipt_message(std::string& out, const Receipt& receipt);
// Sets receipt.wallet to the key's address and signs.
Receipt sign_receipt(Receipt receipt, const PrivateKey& key);
// auth error unless the signature recovers to receipt.wallet (for a batched receipt: the
// proof leads to the root and the batch signature over it recovers to receipt.wallet).
[[nodiscard]] Status verify_receipt(const Receipt& receipt);
// True for the text allowed in run and model fields: empty or valid_identifier().
bool valid_receipt_text(std::string_view text);

}  // namespace perdiem::wallet
