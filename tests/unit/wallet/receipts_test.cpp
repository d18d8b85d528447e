#include <nlohmann/json.hpp>

#include <doctest/doctest.h>

#include "wallet/doc_json.hpp"
#include "wallet/receipts.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

Receipt sample() {
  Receipt r;
  r.id = "42";
  r.run = "run-1";
  r.step = 3;
  r.provider = "venice";
  r.model = "llama-3.3-70b";
  r.usage = Usage{1200, 300, 200};
  r.prices = Price{700'000'000, 2'800'000'000, 350'000'000, 0};
  r.cost = cost_of(r.prices, r.usage).value();
  r.time_ms = kDay0Ms + 123;
  r.request_hash = keccak256("request");
  r.response_hash = keccak256("response");
  return r;
}

}  // namespace

TEST_CASE("a signed receipt verifies by recovery and round-trips through JSON") {
  auto key = key_from(kWalletKeyHex);
  Receipt r = sign_receipt(sample(), key);
  CHECK(r.wallet == key.address());
  CHECK(verify_receipt(r).ok());
  auto parsed = parse_receipt(receipt_to_json(r));
  REQUIRE(parsed.ok());
  CHECK(receipt_message(*parsed) == receipt_message(r));
  CHECK(parsed->signature == r.signature);
  CHECK(verify_receipt(*parsed).ok());
  CHECK(recover_message_signer(receipt_message(r), r.signature).value() == key.address());
}

// The stored form is compact JSON with the members in this order, as it has been since
// receipts were first stored: written by hand, it must still be what a JSON library
// writes for the same members.
TEST_CASE("a receipt's JSON is the compact dump of its members, in their stored order") {
  Receipt r = sample();
  r.run = "run \"quoted\"";  // escaped like any text
  r.final = false;
  r.batch = ReceiptBatch{keccak256("root"), 2, 3, {keccak256("a"), keccak256("b")}};
  r = sign_receipt(r, key_from(kWalletKeyHex));
  const auto hex = [](const Hash32& h) { return doc_json::hash_to_hex(h); };
  nlohmann::ordered_json expected = {
      {"id", r.id}, {"wallet", r.wallet.to_string()}, {"status", "estimate"}, {"run", r.run},
      {"step", r.step}, {"provider", r.provider}, {"model", r.model},
      {"input_tokens", r.usage.input_tokens}, {"output_tokens", r.usage.output_tokens},
      {"cached_input_tokens", r.usage.cached_input_tokens},
      {"prices",
       {{"input", "0.7"}, {"output", "2.8"}, {"cached_input", "0.35"}, {"request", "0"}}},
      {"cost", format_usd(r.cost)}, {"time", r.time_ms},
      {"request_hash", hex(r.request_hash)}, {"response_hash", hex(r.response_hash)},
      {"batch",
       {{"version", 2}, {"root", hex(r.batch->root)}, {"index", 2}, {"size", 3},
        {"proof", {hex(r.batch->proof[0]), hex(r.batch->proof[1])}}}},
      {"signature", signature_to_hex(r.signature)}};
  CHECK(receipt_to_json(r) == expected.dump());
  // A version 1 batch is stored as it always was: without a version.
  r.batch->version = BatchVersion::v1;
  expected["batch"].erase("version");
  CHECK(receipt_to_json(r) == expected.dump());
}

TEST_CASE("any change to a receipt breaks its signature") {
  auto key = key_from(kWalletKeyHex);
  Receipt r = sign_receipt(sample(), key);
  auto tampered = [&](auto mutate) {
    Receipt copy = r;
    mutate(copy);
    return !verify_receipt(copy).ok();
  };
  CHECK(tampered([](Receipt& x) { x.cost += 1; }));
  CHECK(tampered([](Receipt& x) { x.usage.output_tokens += 1; }));
  CHECK(tampered([](Receipt& x) { x.provider = "groq"; }));
  CHECK(tampered([](Receipt& x) { x.final = false; }));
  CHECK(tampered([](Receipt& x) { x.prices.per_request = 1; }));
  CHECK(tampered([](Receipt& x) { x.response_hash[0] ^= 1; }));
  CHECK(tampered([](Receipt& x) { x.wallet = key_from(kIssuerKeyHex).address(); }));
  auto j = nlohmann::json::parse(receipt_to_json(r));
  j["cost"] = "0.000001";
  auto parsed = parse_receipt(j.dump());
  REQUIRE(parsed.ok());
  CHECK(verify_receipt(*parsed).error().kind == ErrorKind::auth);
}

TEST_CASE("parse_receipt rejects malformed receipts") {
  auto good = nlohmann::json::parse(receipt_to_json(sign_receipt(sample(), key_from(kWalletKeyHex))));
  auto with = [&](const char* field, nlohmann::json value) {
    auto j = good;
    if (value.is_null()) j.erase(field);
    else j[field] = value;
    return parse_receipt(j.dump()).ok();
  };
  CHECK(with("id", "42"));
  CHECK(!with("cost", 0.5));
  CHECK(!with("step", -1));
  CHECK(!with("model", "two\nlines"));
  CHECK(!with("provider", ""));
  CHECK(!with("status", "maybe"));
  CHECK(!with("request_hash", "0x00"));
  CHECK(!with("prices", nullptr));
  CHECK(!with("cached_input_tokens", 5000));
  CHECK(!parse_receipt("").ok());
}

TEST_CASE("the wallet exports receipts per run") {
  WalletFixture f;
  f.fund_usd("10");
  Budgets a;
  a.run = "run-a";
  Budgets b;
  b.run = "run-b";
  f.settle(f.reserve(usd("1"), "venice", a).id, usd("0.1"));
  f.settle(f.reserve(usd("1"), "groq", b).id, usd("0.2"));
  f.settle(f.reserve(usd("1"), "venice", a).id, usd("0.3"));
  auto run_a = f.wallet->receipts("run-a").value();
  REQUIRE(run_a.size() == 2);
  CHECK(run_a[0].cost == usd("0.1"));
  CHECK(run_a[1].cost == usd("0.3"));
  for (const auto& r : run_a) {
    CHECK(r.run == "run-a");
    CHECK(r.provider == "venice");
    CHECK(verify_receipt(r).ok());
  }
  CHECK(f.wallet->receipts().value().size() == 3);
}
