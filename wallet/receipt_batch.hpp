// Receipt batches: many receipts, one signature. The wallet signs the root of a Merkle
// tree (keccak256) over the receipts' messages; each receipt carries the root, its place
// in the tree and the sibling hashes up to the root, so it verifies on its own:
//   leaf  = keccak256(0x00 || receipt_message(receipt))
//   node  = keccak256(0x01 || left || right)
// A level with an odd number of nodes promotes its last node unchanged. The prefixes keep
// a leaf from ever passing for a node. The signature (EIP-191, like a single receipt's)
// is over batch_message(): "perdiem receipt batch v1", the wallet, the root and the size.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "wallet/keys.hpp"

namespace perdiem::wallet {

struct Receipt;

// Where a batched receipt sits in its batch.
struct ReceiptBatch {
  Hash32 root{};
  std::uint32_t index = 0;  // 0-based position among the batch's receipts
  std::uint32_t size = 0;   // how many receipts the batch signs
  std::vector<Hash32> proof;  // sibling hashes from the leaf up (promotions skipped)
};

Hash32 receipt_leaf(const Receipt& receipt);
Hash32 merkle_root(std::vector<Hash32> leaves);
// Sibling hashes of leaves[index], leaf to root.
std::vector<Hash32> merkle_proof(const std::vector<Hash32>& leaves, std::uint32_t index);
// The root that `leaf` at `index` of `size` leaves reaches through `proof`; false when the
// proof has the wrong length for that place.
bool merkle_fold(Hash32 leaf, std::uint32_t index, std::uint32_t size,
                 const std::vector<Hash32>& proof, Hash32& root);
std::string batch_message(const Address& wallet, const Hash32& root, std::uint32_t size);

// Signs `receipts` as one batch: sets each one's wallet, batch (root, index, size, proof)
// and signature (the batch's). One signature whatever the count; empty input is a no-op.
// Without proofs, each batch.proof is left empty: wallet.db stores batches that way
// (half the bytes) and fill_batch_proofs() puts the proofs back when they are read.
void sign_receipt_batch(std::vector<Receipt>& receipts, const PrivateKey& key,
                        bool with_proofs = true);
// Gives every batched receipt without a proof its proof, from the other receipts of its
// batch in `receipts` (a batch not all there is left as it is, and will not verify).
void fill_batch_proofs(std::vector<Receipt>& receipts);

}  // namespace perdiem::wallet
