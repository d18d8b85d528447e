#include "wallet/receipt_batch.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <utility>

#include "wallet/doc_json.hpp"
#include "wallet/receipts.hpp"

namespace perdiem::wallet {
namespace {

Hash32 node(const Hash32& left, const Hash32& right) {
  std::uint8_t bytes[1 + 32 + 32];
  bytes[0] = 0x01;
  std::memcpy(bytes + 1, left.data(), 32);
  std::memcpy(bytes + 33, right.data(), 32);
  return keccak256(std::span<const std::uint8_t>(bytes, sizeof bytes));
}

// Replaces `level` with the level above it.
void climb(std::vector<Hash32>& level) {
  std::size_t out = 0;
  for (std::size_t i = 0; i < level.size(); i += 2, ++out)
    level[out] = i + 1 < level.size() ? node(level[i], level[i + 1]) : level[i];
  level.resize(out);
}

// Every level of the tree, leaves first, root last.
std::vector<std::vector<Hash32>> levels_of(std::vector<Hash32> leaves) {
  std::vector<std::vector<Hash32>> levels{std::move(leaves)};
  while (levels.back().size() > 1) {
    std::vector<Hash32> up = levels.back();
    climb(up);
    levels.push_back(std::move(up));
  }
  return levels;
}

std::vector<Hash32> proof_from(const std::vector<std::vector<Hash32>>& levels, std::size_t at) {
  std::vector<Hash32> proof;
  for (std::size_t l = 0; l + 1 < levels.size(); ++l, at /= 2) {
    const std::size_t sibling = at ^ 1;
    if (sibling < levels[l].size()) proof.push_back(levels[l][sibling]);
  }
  return proof;
}

}  // namespace

void append_receipt_leaf_bytes(std::string& out, const Receipt& r) {
  const auto integer = [&out](std::int64_t value) {
    const auto bits = static_cast<std::uint64_t>(value);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>(bits >> shift);
  };
  const auto text = [&out](std::string_view value) {
    // Receipt texts are identifiers of at most 128 bytes, checked before signing
    // (tab_receipts) and when read (parse_receipt), so the cap is never reached; it only
    // keeps the length and the bytes written in agreement.
    const auto size = static_cast<std::uint16_t>(std::min<std::size_t>(value.size(), 0xffff));
    out += static_cast<char>(size >> 8);
    out += static_cast<char>(size & 0xff);
    out.append(value.data(), size);
  };
  const auto bytes = [&out](const auto& array) {
    out.append(reinterpret_cast<const char*>(array.data()), array.size());
  };
  text(r.id);
  bytes(r.wallet.bytes);
  out += static_cast<char>(r.final ? 1 : 0);
  text(r.run);
  integer(r.step);
  text(r.provider);
  text(r.model);
  integer(r.usage.input_tokens);
  integer(r.usage.output_tokens);
  integer(r.usage.cached_input_tokens);
  integer(r.prices.input_per_mtok);
  integer(r.prices.output_per_mtok);
  integer(r.prices.cached_input_per_mtok);
  integer(r.prices.per_request);
  integer(r.cost);
  integer(r.time_ms);
  bytes(r.request_hash);
  bytes(r.response_hash);
}

Hash32 receipt_leaf(const Receipt& receipt, BatchVersion version) {
  // One buffer per thread: a batch hashes a leaf per receipt.
  thread_local std::string bytes;
  switch (version) {
    case BatchVersion::v1:
      bytes.assign(1, '\x00');
      append_receipt_message(bytes, receipt);
      break;
    case BatchVersion::v2:
      bytes.assign(1, '\x02');
      append_receipt_leaf_bytes(bytes, receipt);
      break;
  }
  return keccak256(bytes);
}

Hash32 merkle_root(std::vector<Hash32> leaves) {
  if (leaves.empty()) return Hash32{};
  while (leaves.size() > 1) climb(leaves);
  return leaves.front();
}

std::vector<Hash32> merkle_proof(const std::vector<Hash32>& leaves, std::uint32_t index) {
  return proof_from(levels_of(leaves), index);
}

bool merkle_fold(Hash32 leaf, std::uint32_t index, std::uint32_t size,
                 const std::vector<Hash32>& proof, Hash32& root) {
  if (size == 0 || index >= size) return false;
  std::size_t used = 0;
  std::uint64_t at = index, width = size;
  while (width > 1) {
    std::uint64_t sibling = at ^ 1;
    if (sibling < width) {
      if (used == proof.size()) return false;
      leaf = (at & 1) ? node(proof[used], leaf) : node(leaf, proof[used]);
      ++used;
    }
    at /= 2;
    width = (width + 1) / 2;
  }
  if (used != proof.size()) return false;
  root = leaf;
  return true;
}

std::string batch_message(const Address& wallet, const Hash32& root, std::uint32_t size,
                          BatchVersion version) {
  return "perdiem receipt batch v" + std::to_string(static_cast<int>(version)) +
         "\nwallet: " + wallet.to_string() + "\nroot: " + doc_json::hash_to_hex(root) +
         "\nsize: " + std::to_string(size);
}

void sign_receipt_batch(std::vector<Receipt>& receipts, const PrivateKey& key, bool with_proofs,
                        BatchVersion version) {
  if (receipts.empty()) return;
  const Address address = key.address();
  std::vector<Hash32> leaves;
  leaves.reserve(receipts.size());
  for (Receipt& r : receipts) {
    r.wallet = address;
    leaves.push_back(receipt_leaf(r, version));
  }
  const auto size = static_cast<std::uint32_t>(receipts.size());
  // Every level of the tree, so each proof is read off rather than rebuilt.
  const std::vector<std::vector<Hash32>> levels = levels_of(std::move(leaves));
  const Hash32 root = levels.back().front();
  const Signature signature = key.sign_message(batch_message(address, root, size, version));
  for (std::uint32_t i = 0; i < size; ++i) {
    ReceiptBatch batch;
    batch.root = root;
    batch.index = i;
    batch.size = size;
    batch.version = version;
    if (with_proofs) batch.proof = proof_from(levels, i);
    receipts[i].batch = std::move(batch);
    receipts[i].signature = signature;
  }
}

}  // namespace perdiem::wallet

namespace perdiem::wallet {

void fill_batch_proofs(std::vector<Receipt>& receipts) {
  // Receipts missing their proof, by batch (root and signature).
  std::map<std::pair<Hash32, Signature>, std::vector<Receipt*>> batches;
  for (Receipt& r : receipts)
    if (r.batch && r.batch->proof.empty() && r.batch->size > 1)
      batches[{r.batch->root, r.signature}].push_back(&r);
  for (auto& [key, members] : batches) {
    const std::uint32_t size = members.front()->batch->size;
    // Counted before anything is sized by `size`: a stored receipt claiming a batch of
    // four billion must not make the reader allocate for them.
    if (members.size() != size) continue;
    std::vector<Hash32> leaves(size);
    std::vector<bool> seen(size, false);
    bool complete = true;
    for (Receipt* r : members) {
      if (r->batch->size != size || r->batch->version != members.front()->batch->version ||
          r->batch->index >= size || seen[r->batch->index]) {
        complete = false;
        break;
      }
      seen[r->batch->index] = true;
      leaves[r->batch->index] = receipt_leaf(*r, r->batch->version);
    }
    if (!complete) continue;
    const auto levels = levels_of(std::move(leaves));
    for (Receipt* r : members) r->batch->proof = proof_from(levels, r->batch->index);
  }
}

}  // namespace perdiem::wallet
