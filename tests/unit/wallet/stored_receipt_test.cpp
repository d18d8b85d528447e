// The packed form tab receipts are stored in: its documented layout, that it reads back
// as the receipt it was (the same JSON, the same signed fields), and that bytes which are
// not a whole packed receipt are refused with a storage error, never half read.
#include <doctest/doctest.h>

#include "wallet/receipt_batch.hpp"
#include "wallet/stored_receipt.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

// Five receipts signed as one batch; with proofs when `with_proofs`.
std::vector<Receipt> signed_batch(bool with_proofs) {
  std::vector<Receipt> receipts;
  for (int i = 0; i < 5; ++i) {
    receipts.push_back(sample_receipt(i, "12"));
    receipts.back().final = i != 3;  // an estimate among them
  }
  sign_receipt_batch(receipts, key_from(kWalletKeyHex), with_proofs);
  return receipts;
}

std::span<const std::uint8_t> as_bytes(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string big_endian(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

// The layout stored_receipt.hpp documents, written out here from the receipt's fields.
std::string documented_packing(const Receipt& r) {
  std::string out(1, '\x01');
  append_receipt_leaf_bytes(out, r);  // its own layout is pinned by receipt_batch_test
  out += '\x02';
  out += big_endian(r.batch->index, 4) + big_endian(r.batch->size, 4);
  out.append(reinterpret_cast<const char*>(r.batch->root.data()), 32);
  out += static_cast<char>(r.batch->proof.size());
  for (const Hash32& hash : r.batch->proof)
    out.append(reinterpret_cast<const char*>(hash.data()), 32);
  out.append(reinterpret_cast<const char*>(r.signature.data()), 65);
  return out;
}

// The packed bytes of `r` after `change`, which edits them in place.
template <typename Change>
std::string edited(const Receipt& r, Change change) {
  std::string bytes = pack_receipt(r);
  change(bytes);
  return bytes;
}

}  // namespace

TEST_CASE("a packed receipt is the documented layout and reads back as the receipt it was") {
  for (bool with_proofs : {false, true}) {
    CAPTURE(with_proofs);
    for (const Receipt& r : signed_batch(with_proofs)) {
      CAPTURE(r.id);
      REQUIRE(packable(r));
      const std::string packed = pack_receipt(r);
      CHECK(packed == documented_packing(r));
      auto back = unpack_receipt(as_bytes(packed));
      REQUIRE(back.ok());
      // The JSON readers are shown is the JSON the wallet used to store, byte for byte.
      CHECK(receipt_to_json(*back) == receipt_to_json(r));
      CHECK(receipt_message(*back) == receipt_message(r));
      CHECK(back->batch->proof == r.batch->proof);
      CHECK(verify_receipt(*back).ok() == with_proofs);  // no proof: read with its batch
      // Less than half the JSON: what made storing them worth changing.
      CHECK(packed.size() * 2 < receipt_to_json(r).size());
    }
  }
}

TEST_CASE("receipts outside a version 2 batch are not packed: they keep their JSON") {
  Receipt single = signed_batch(false).front();
  single.batch.reset();
  CHECK_FALSE(packable(single));
  std::vector<Receipt> old = signed_batch(false);
  sign_receipt_batch(old, key_from(kWalletKeyHex), false, BatchVersion::v1);
  CHECK_FALSE(packable(old.front()));
}

TEST_CASE("bytes that are not a whole packed receipt are refused, naming what is wrong") {
  const Receipt r = signed_batch(true)[2];
  const std::string packed = pack_receipt(r);
  const auto refused = [](const std::string& bytes, const char* why) {
    auto back = unpack_receipt(as_bytes(bytes));
    REQUIRE_FALSE(back.ok());
    CHECK(back.error().kind == ErrorKind::storage);
    CHECK_MESSAGE(back.error().message.find(why) != std::string::npos, back.error().message);
  };
  SUBCASE("cut short anywhere") {
    for (std::size_t size = 0; size < packed.size(); ++size) {
      CAPTURE(size);
      auto back = unpack_receipt(as_bytes(packed.substr(0, size)));
      REQUIRE_FALSE(back.ok());
      CHECK(back.error().kind == ErrorKind::storage);
    }
    refused(packed.substr(0, packed.size() - 1), "cut short in its signature");
  }
  SUBCASE("anything after the signature") {
    refused(packed + '\x00', "1 bytes after");
  }
  SUBCASE("a newer format") {
    refused(edited(r, [](std::string& b) { b[0] = '\x02'; }), "format 2, which this perdiem");
  }
  // Offsets below are into the documented layout: format, then the id ("12.2", 2 + 4
  // bytes), the wallet (20), the status byte.
  SUBCASE("a status byte other than 0 or 1") {
    refused(edited(r, [](std::string& b) { b[1 + 6 + 20] = '\x07'; }), "status byte");
  }
  SUBCASE("an id that is not an identifier") {
    refused(edited(r, [](std::string& b) { b[1 + 2] = ' '; }), "id");
  }
  SUBCASE("a negative cost") {
    Receipt negative = r;
    negative.cost = -1;
    refused(pack_receipt(negative), "negative");
  }
  SUBCASE("more cached input tokens than input tokens") {
    Receipt cached = r;
    cached.usage.cached_input_tokens = cached.usage.input_tokens + 1;
    refused(pack_receipt(cached), "cached input");
  }
  SUBCASE("a place outside its batch") {
    Receipt outside = r;
    outside.batch->index = outside.batch->size;
    refused(pack_receipt(outside), "index outside");
  }
  SUBCASE("a batch version other than 2") {
    const std::size_t version_at = packed.size() - 65 - 32 * r.batch->proof.size() - 1 - 32 - 8 - 1;
    REQUIRE(packed[version_at] == '\x02');
    refused(edited(r, [&](std::string& b) { b[version_at] = '\x01'; }), "batch version 1");
  }
  SUBCASE("a proof longer than any batch needs") {
    const std::size_t count_at = packed.size() - 65 - 32 * r.batch->proof.size() - 1;
    REQUIRE(static_cast<std::size_t>(packed[count_at]) == r.batch->proof.size());
    refused(edited(r, [&](std::string& b) { b[count_at] = 33; }), "more than 32");
  }
}
