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
  for (int i = 0; i < 3; ++i) receipts.push_back(sample_receipt(i));
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
    CHECK(r.batch->version == BatchVersion::v2);
    const std::string bytes = documented_leaf_bytes(r);
    std::string appended;
    append_receipt_leaf_bytes(appended, r);
    CHECK(appended == bytes);
    CHECK(receipt_leaf(r, BatchVersion::v2) == keccak256('\x02' + bytes));
    // Two Keccak permutations (136-byte blocks; padding needs one byte), even with a
    // 33-character model id: the point of version 2.
    CHECK(1 + bytes.size() < 2 * 136);
    CHECK(1 + receipt_message(r).size() > 4 * 136);  // version 1 hashed five blocks
    CHECK(verify_receipt(r).ok());
    auto parsed = parse_receipt(receipt_to_json(r));
    REQUIRE(parsed.ok());
    CHECK(parsed->batch->version == BatchVersion::v2);
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
    const Status verified = verify_receipt(copy);
    return !verified.ok() && verified.error().kind == ErrorKind::auth;
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
  sign_receipt_batch(receipts, key_from(kWalletKeyHex), /*with_proofs=*/true, BatchVersion::v1);
  for (const Receipt& r : receipts) {
    CAPTURE(r.id);
    REQUIRE(r.batch);
    CHECK(r.batch->version == BatchVersion::v1);
    CHECK(receipt_leaf(r, BatchVersion::v1) == keccak256('\x00' + receipt_message(r)));
    auto stored = nlohmann::json::parse(receipt_to_json(r));
    CHECK_FALSE(stored["batch"].contains("version"));  // as version 1 was written
    auto parsed = parse_receipt(stored.dump());
    REQUIRE(parsed.ok());
    CHECK(parsed->batch->version == BatchVersion::v1);
    CHECK(verify_receipt(*parsed).ok());

    // Claiming the other version fails: its leaf, and the message signed, differ.
    stored["batch"]["version"] = 2;
    auto relabelled = parse_receipt(stored.dump());
    REQUIRE(relabelled.ok());
    const Status verified = verify_receipt(*relabelled);
    REQUIRE_FALSE(verified.ok());
    CHECK(verified.error().kind == ErrorKind::auth);

    // A version this perdiem does not know is refused when read, and says why.
    stored["batch"]["version"] = 3;
    auto unknown = parse_receipt(stored.dump());
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message.find("newer perdiem") != std::string::npos);
  }
  // The batches of the two versions over the same receipts differ in their signed text.
  const Address wallet = key_from(kWalletKeyHex).address();
  CHECK(batch_message(wallet, receipts[0].batch->root, 3, BatchVersion::v1) !=
        batch_message(wallet, receipts[0].batch->root, 3, BatchVersion::v2));
}

// Receipts as perdiem stored them: version 1 written by the code before version 2
// existed (commit e0c6c32), version 2 by the code that introduced it. Pinned, so a
// change to either layout, or to how either is read, fails here rather than in a
// wallet someone already holds. (Also seeds of the receipt parser's fuzz corpus.)
constexpr const char* kStoredV1 =
    R"({"id":"7.1","wallet":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23","status":"final","run")"
    R"(:"run-1","step":2,"provider":"venice","model":"meta-llama/llama-3.3-70b-instruct","input)"
    R"(_tokens":1201,"output_tokens":300,"cached_input_tokens":200,"prices":{"input":"0.7","out)"
    R"(put":"2.8","cached_input":"0.35","request":"0.000001"},"cost":"0.001234568","time":17356)"
    R"(89600001,"request_hash":"0xdc8dd6a67577ceb0e8c952ae699fa1cb86ba150ec0651bc5991870680175c)"
    R"(0d4","response_hash":"0x24918e306b08fdcb40fe6fc9f28e4d23e0501897c5ebf2d0d5e4f7f8fefe3bbd)"
    R"(","batch":{"root":"0x1359833f63cedc0361796456b5c673f0d7231694270886ec06a94358ac8bdfdb",")"
    R"(index":1,"size":3,"proof":["0xdf9a5270614a54dc6d11dd54e85936c2e82d191c8cfa6535ef5e105d38)"
    R"(d43353","0x9ef46841a48e6465a692f36c2df7758a28226eca29dcc98252c40594fec67d55"]},"signatur)"
    R"(e":"0xe0c07500ce5a6900c73cfbc682bab4a804f06268429a505a66097aadf24f06c60307c548d326f393aa)"
    R"(f2dddcb5ed709dd035b0a2f199ca0a4b75d618d89d79711c"})";
constexpr const char* kStoredV2 =
    R"({"id":"7.1","wallet":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23","status":"final","run")"
    R"(:"run-1","step":2,"provider":"venice","model":"meta-llama/llama-3.3-70b-instruct","input)"
    R"(_tokens":1201,"output_tokens":300,"cached_input_tokens":200,"prices":{"input":"0.7","out)"
    R"(put":"2.8","cached_input":"0.35","request":"0.000001"},"cost":"0.001234568","time":17356)"
    R"(89600001,"request_hash":"0xdc8dd6a67577ceb0e8c952ae699fa1cb86ba150ec0651bc5991870680175c)"
    R"(0d4","response_hash":"0x24918e306b08fdcb40fe6fc9f28e4d23e0501897c5ebf2d0d5e4f7f8fefe3bbd)"
    R"(","batch":{"version":2,"root":"0x7653ab8a6582ea6a8beb982a3704970fc39fd0ad65391d70a66e55e)"
    R"(99d756797","index":1,"size":3,"proof":["0xa01d0e97904ab2ad8bc15bca1b69cc77accd5e606119d0)"
    R"(73b5a7655772b65ec0","0xd5ee3331cae85bc38c0c92c05626b1de687e36e9dfbe0b9d129609bfbe2ce148")"
    R"(]},"signature":"0x523a1282df0ee1fe0193589fbbb4cd1b3a57f9b19359c4cc8f3fa975f923cba41b35a8)"
    R"(887447c90ca7616f6e07515f4bc58827d43da7101fdb8b1d490098fa811c"})";

TEST_CASE("receipts stored by earlier and current perdiem verify, and read back byte for byte") {
  for (const auto& [stored, version] :
       {std::pair{kStoredV1, BatchVersion::v1}, std::pair{kStoredV2, BatchVersion::v2}}) {
    CAPTURE(stored);
    auto receipt = parse_receipt(stored);
    REQUIRE(receipt.ok());
    CHECK(receipt->batch->version == version);
    CHECK(verify_receipt(*receipt).ok());
    CHECK(receipt_to_json(*receipt) == stored);
  }
  // The message docs/wallet.md shows for this receipt's batch, which its signature covers.
  auto v2 = parse_receipt(kStoredV2).value();
  CHECK(batch_message(v2.wallet, v2.batch->root, v2.batch->size, BatchVersion::v2) ==
        "perdiem receipt batch v2\n"
        "wallet: 0x2c7536E3605D9C16a7a3D7b1898e529396a65c23\n"
        "root: 0x7653ab8a6582ea6a8beb982a3704970fc39fd0ad65391d70a66e55e99d756797\n"
        "size: 3");
  // Dropping the version from a version 2 receipt claims version 1: it fails.
  auto stripped = nlohmann::json::parse(kStoredV2);
  stripped["batch"].erase("version");
  auto relabelled = parse_receipt(stripped.dump());
  REQUIRE(relabelled.ok());
  const Status verified = verify_receipt(*relabelled);
  REQUIRE_FALSE(verified.ok());
  CHECK(verified.error().kind == ErrorKind::auth);
}

TEST_CASE("proofs stripped for storage come back for either version") {
  for (BatchVersion version : {BatchVersion::v1, BatchVersion::v2}) {
    CAPTURE(static_cast<int>(version));
    auto receipts = three_receipts();
    sign_receipt_batch(receipts, key_from(kWalletKeyHex), /*with_proofs=*/false, version);
    for (const Receipt& r : receipts) CHECK_FALSE(verify_receipt(r).ok());
    fill_batch_proofs(receipts);
    for (const Receipt& r : receipts) CHECK(verify_receipt(r).ok());
  }
}
