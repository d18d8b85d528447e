// Batch versions: what a version 2 leaf hashes, and that version 1 batches (as wallets
// written before version 2 stored them) still verify and cannot be relabelled.
#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include "wallet/receipts.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

std::vector<Receipt> three_receipts() {
  std::vector<Receipt> receipts;
  for (int i = 0; i < 3; ++i) {
    Receipt r;
    r.id = "7." + std::to_string(i);
    r.run = "run-" + std::to_string(i);
    r.step = i + 1;
    r.provider = "venice";
    r.model = "meta-llama/llama-3.3-70b-instruct";
    r.usage = Usage{1200 + i, 300, 200};
    r.prices = Price{700'000'000, 2'800'000'000, 350'000'000, 1000};
    r.cost = cost_of(r.prices, r.usage).value();
    r.time_ms = kDay0Ms + i;
    r.request_hash = keccak256("request " + std::to_string(i));
    r.response_hash = keccak256("response " + std::to_string(i));
    receipts.push_back(r);
  }
  return receipts;
}

// The layout receipt_batch.hpp documents, written out here independently of it.
std::string documented_leaf_bytes(const Receipt& r) {
  std::string out;
  const auto integer = [&](std::int64_t v) {
    for (int i = 7; i >= 0; --i)
      out += static_cast<char>((static_cast<std::uint64_t>(v) >> (8 * i)) & 0xff);
  };
  const auto text = [&](const std::string& t) {
    out += static_cast<char>(t.size() / 256);
    out += static_cast<char>(t.size() % 256);
    out += t;
  };
  text(r.id);
  out.append(reinterpret_cast<const char*>(r.wallet.bytes.data()), 20);
  out += r.final ? '\x01' : '\x00';
  text(r.run);
  integer(r.step);
  text(r.provider);
  text(r.model);
  for (std::int64_t v : {r.usage.input_tokens, r.usage.output_tokens, r.usage.cached_input_tokens,
                         r.prices.input_per_mtok, r.prices.output_per_mtok,
                         r.prices.cached_input_per_mtok, r.prices.per_request, r.cost, r.time_ms})
    integer(v);
  out.append(reinterpret_cast<const char*>(r.request_hash.data()), 32);
  out.append(reinterpret_cast<const char*>(r.response_hash.data()), 32);
  return out;
}

}  // namespace

TEST_CASE("new batches are version 2: each leaf hashes the documented binary layout") {
  auto receipts = three_receipts();
  sign_receipt_batch(receipts, key_from(kWalletKeyHex));
  for (const Receipt& r : receipts) {
    CAPTURE(r.id);
    REQUIRE(r.batch);
    CHECK(r.batch->version == 2);
    const std::string bytes = documented_leaf_bytes(r);
    std::string appended;
    append_receipt_leaf_bytes(appended, r);
    CHECK(appended == bytes);
    CHECK(receipt_leaf(r, 2) == keccak256('\x02' + bytes));
    // Two Keccak permutations (136-byte blocks; padding needs one byte), even with a
    // 33-character model id: the point of version 2.
    CHECK(1 + bytes.size() < 2 * 136);
    CHECK(1 + receipt_message(r).size() > 4 * 136);  // version 1 hashed five blocks
    CHECK(verify_receipt(r).ok());
    auto parsed = parse_receipt(receipt_to_json(r));
    REQUIRE(parsed.ok());
    CHECK(parsed->batch->version == 2);
    CHECK(verify_receipt(*parsed).ok());
  }
}

TEST_CASE("any change to a version 2 batched receipt breaks it") {
  auto receipts = three_receipts();
  sign_receipt_batch(receipts, key_from(kWalletKeyHex));
  const Receipt r = receipts[1];
  auto tampered = [&](auto mutate) {
    Receipt copy = r;
    mutate(copy);
    return verify_receipt(copy).error().kind == ErrorKind::auth;
  };
  CHECK(tampered([](Receipt& x) { x.id = "7.9"; }));
  CHECK(tampered([](Receipt& x) { x.final = false; }));
  CHECK(tampered([](Receipt& x) { x.run = "run-2"; }));
  CHECK(tampered([](Receipt& x) { x.step += 1; }));
  CHECK(tampered([](Receipt& x) { x.provider = "groq"; }));
  CHECK(tampered([](Receipt& x) { x.model = "meta-llama/llama-3.3-70b-instructx"; }));
  CHECK(tampered([](Receipt& x) { x.usage.input_tokens += 1; }));
  CHECK(tampered([](Receipt& x) { x.usage.output_tokens += 1; }));
  CHECK(tampered([](Receipt& x) { x.usage.cached_input_tokens += 1; }));
  CHECK(tampered([](Receipt& x) { x.prices.input_per_mtok += 1; }));
  CHECK(tampered([](Receipt& x) { x.prices.output_per_mtok += 1; }));
  CHECK(tampered([](Receipt& x) { x.prices.cached_input_per_mtok += 1; }));
  CHECK(tampered([](Receipt& x) { x.prices.per_request += 1; }));
  CHECK(tampered([](Receipt& x) { x.cost += 1; }));
  CHECK(tampered([](Receipt& x) { x.time_ms += 1; }));
  CHECK(tampered([](Receipt& x) { x.request_hash[31] ^= 1; }));
  CHECK(tampered([](Receipt& x) { x.response_hash[0] ^= 1; }));
  CHECK(tampered([](Receipt& x) { x.wallet = key_from(kIssuerKeyHex).address(); }));
  CHECK(tampered([](Receipt& x) { x.batch->index = 2; }));
}

TEST_CASE("a version 1 batch, as older wallets stored it, verifies and cannot be relabelled") {
  auto receipts = three_receipts();
  sign_receipt_batch(receipts, key_from(kWalletKeyHex), /*with_proofs=*/true, /*version=*/1);
  for (const Receipt& r : receipts) {
    CAPTURE(r.id);
    REQUIRE(r.batch);
    CHECK(r.batch->version == 1);
    CHECK(receipt_leaf(r, 1) == keccak256('\x00' + receipt_message(r)));
    auto stored = nlohmann::json::parse(receipt_to_json(r));
    CHECK_FALSE(stored["batch"].contains("version"));  // as version 1 was written
    auto parsed = parse_receipt(stored.dump());
    REQUIRE(parsed.ok());
    CHECK(parsed->batch->version == 1);
    CHECK(verify_receipt(*parsed).ok());

    // Claiming the other version fails: its leaf, and the message signed, differ.
    stored["batch"]["version"] = 2;
    auto relabelled = parse_receipt(stored.dump());
    REQUIRE(relabelled.ok());
    CHECK(verify_receipt(*relabelled).error().kind == ErrorKind::auth);

    // A version this perdiem does not know is refused when read, and says why.
    stored["batch"]["version"] = 3;
    auto unknown = parse_receipt(stored.dump());
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.find("newer perdiem") != std::string::npos);
  }
  // The batches of the two versions over the same receipts differ in their signed text.
  const Address wallet = key_from(kWalletKeyHex).address();
  CHECK(batch_message(wallet, receipts[0].batch->root, 3, 1) !=
        batch_message(wallet, receipts[0].batch->root, 3, 2));
}

TEST_CASE("proofs stripped for storage come back for either version") {
  for (int version : {1, 2}) {
    CAPTURE(version);
    auto receipts = three_receipts();
    sign_receipt_batch(receipts, key_from(kWalletKeyHex), /*with_proofs=*/false, version);
    for (const Receipt& r : receipts) CHECK_FALSE(verify_receipt(r).ok());
    fill_batch_proofs(receipts);
    for (const Receipt& r : receipts) CHECK(verify_receipt(r).ok());
  }
}
