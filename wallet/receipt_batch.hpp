// Receipt batches: many receipts, one signature. The wallet signs the root of a Merkle
// tree (keccak256) over the receipts; each receipt carries the root, its place in the
// tree and the sibling hashes up to the root, so it verifies on its own:
//   leaf  = keccak256(0x02 || append_receipt_leaf_bytes(receipt))   (version 2)
//   leaf  = keccak256(0x00 || receipt_message(receipt))             (version 1)
//   node  = keccak256(0x01 || left || right)
// A level with an odd number of nodes promotes its last node unchanged. The prefixes keep
// a leaf from ever passing for a node, and a leaf of one version for one of the other.
// The signature (EIP-191, like a single receipt's) is over batch_message(): "perdiem
// receipt batch v<version>", the wallet, the root and the size, so a batch cannot be
// relabelled with the other version.
//
// Why two versions: version 1 hashed the ~600-byte text a single receipt signs, five
// Keccak permutations per call and the largest single cost of a metered call. Version 2,
// which new batches use, hashes the same fields in a fixed binary layout: 173 bytes plus
// the id, run, provider and model, two permutations while those four total at most 97
// bytes (a typical call's total 50 to 80). Version 1 batches, in wallets written before,
// still verify.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wallet/keys.hpp"

namespace perdiem::wallet {

struct Receipt;

// How a batch's leaves and signed message read. A type of its own, so that no other
// number can reach the code that hashes them.
enum class BatchVersion : std::uint8_t { v1 = 1, v2 = 2 };
// What new batches are signed with.
inline constexpr BatchVersion kReceiptBatchVersion = BatchVersion::v2;

// Where a batched receipt sits in its batch, and how the batch reads.
struct ReceiptBatch {
  Hash32 root{};
  std::uint32_t index = 0;    // 0-based position among the batch's receipts
  std::uint32_t size = 0;     // how many receipts the batch signs
  std::vector<Hash32> proof;  // sibling hashes from the leaf up (promotions skipped)
  BatchVersion version = kReceiptBatchVersion;
};

// Version 2's leaf content, every integer 8 bytes big-endian (two's complement), every
// text a 2-byte big-endian length then its bytes (receipt texts are identifiers of at
// most 128 bytes, checked before anything is signed and when a receipt is read):
//   text id | wallet (20 bytes) | status (1 byte: 1 final, 0 estimate) | text run |
//   i64 step | text provider | text model | i64 input_tokens | i64 output_tokens |
//   i64 cached_input_tokens | i64 price_input_nanos_per_mtok |
//   i64 price_output_nanos_per_mtok | i64 price_cached_input_nanos_per_mtok |
//   i64 price_request_nanos | i64 cost_nanos | i64 time_ms | request_hash (32 bytes) |
//   response_hash (32 bytes)
// The fields and their order are receipt_message()'s. Appended to `out`.
void append_receipt_leaf_bytes(std::string& out, const Receipt& receipt);
// The receipt's leaf in a batch of `version`.
Hash32 receipt_leaf(const Receipt& receipt, BatchVersion version);
Hash32 merkle_root(std::vector<Hash32> leaves);
// Sibling hashes of leaves[index], leaf to root.
std::vector<Hash32> merkle_proof(const std::vector<Hash32>& leaves, std::uint32_t index);
// The root that `leaf` at `index` of `size` leaves reaches through `proof`; false when the
// proof has the wrong length for that place.
bool merkle_fold(Hash32 leaf, std::uint32_t index, std::uint32_t size,
                 const std::vector<Hash32>& proof, Hash32& root);
// "perdiem receipt batch v2\nwallet: 0x<EIP-55>\nroot: 0x<64 lowercase hex>\nsize: <n>"
std::string batch_message(const Address& wallet, const Hash32& root, std::uint32_t size,
                          BatchVersion version);

// Signs `receipts` as one batch: sets each one's wallet, batch (root, index, size, proof,
// version) and signature (the batch's). One signature whatever the count; empty input is
// a no-op. Version 1 is for tests of wallets written before version 2.
// Without proofs, each batch.proof is left empty: wallet.db stores batches that way
// (half the bytes) and fill_batch_proofs() puts the proofs back when they are read.
void sign_receipt_batch(std::vector<Receipt>& receipts, const PrivateKey& key,
                        bool with_proofs = true, BatchVersion version = kReceiptBatchVersion);
// Gives every batched receipt without a proof its proof, from the other receipts of its
// batch in `receipts` (a batch not all there is left as it is, and will not verify).
void fill_batch_proofs(std::vector<Receipt>& receipts);

}  // namespace perdiem::wallet
