// Known-answer tests for keys, addresses and EIP-191 signatures.
//
// Every vector below was computed independently with ethers.js 6.17.0 (npm), e.g.
//   new ethers.Wallet(KEY).address, ethers.keccak256("0x"),
//   new ethers.Wallet(KEY).signMessageSync("Some data"), ethers.hashMessage("Some data"),
//   ethers.getAddress("0x5aaeb6...")
// The "Some data" signature and its message hash are also the published example of
// web3.js (https://docs.web3js.org/api/web3-eth-accounts/function/sign:
// web3.eth.accounts.sign('Some data', KEY)). The EIP-55 examples are from the EIP itself.
#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "wallet/hex.hpp"
#include "wallet/keys.hpp"

using namespace perdiem;
using namespace perdiem::wallet;

namespace {

constexpr std::string_view kKey =
    "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
constexpr std::string_view kKeyAddress = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
constexpr std::string_view kSomeDataSig =
    "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd"
    "6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c";
// secp256k1 group order n.
constexpr std::string_view kOrderHex =
    "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

std::string hex_of(const Hash32& hash) {
  return hex_encode(hash);
}

PrivateKey key_from(std::string_view hex) {
  auto key = PrivateKey::from_hex(hex);
  REQUIRE(key.ok());
  return std::move(key).value();
}

Signature sig_from(std::string_view hex) {
  auto sig = signature_from_hex(hex);
  REQUIRE(sig.ok());
  return sig.value();
}

}  // namespace

TEST_CASE("keccak256 is Ethereum's Keccak, not SHA3-256") {
  CHECK(hex_of(keccak256(std::string_view(""))) ==
        "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  CHECK(hex_of(keccak256(std::string_view("abc"))) ==
        "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
}

TEST_CASE("eip191_hash matches ethers.hashMessage") {
  CHECK(hex_of(eip191_hash("Some data")) ==
        "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655");
}

TEST_CASE("addresses of known keys") {
  CHECK(key_from(kKey).address().to_string() == kKeyAddress);
  CHECK(key_from("0000000000000000000000000000000000000000000000000000000000000001")
            .address()
            .to_string() == "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
  // n - 1, the largest valid secret.
  CHECK(key_from("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140")
            .address()
            .to_string() == "0x80C0dbf239224071c59dD8970ab9d542E3414aB2");
}

TEST_CASE("PrivateKey::from_hex accepts whitespace and 0x, rejects the rest without echo") {
  CHECK(PrivateKey::from_hex(std::string("  ") + std::string(kKey) + "\n").ok());
  CHECK(PrivateKey::from_hex(std::string(kKey).substr(2)).ok());
  const std::string secret_hex = std::string(kKey).substr(2);
  for (const std::string& bad :
       {secret_hex.substr(0, 62), secret_hex + "00", secret_hex.substr(0, 63) + "g",
        std::string(64, '0'), std::string(kOrderHex), std::string(64, 'f'), std::string()}) {
    auto key = PrivateKey::from_hex(bad);
    REQUIRE_FALSE(key.ok());
    CHECK(key.error().kind == ErrorKind::invalid_argument);
    CHECK(key.error().message.find(secret_hex.substr(0, 8)) == std::string::npos);
  }
  CHECK_FALSE(PrivateKey::from_bytes(std::vector<std::uint8_t>(31, 1)).ok());
}

TEST_CASE("sign_message matches EVM tooling byte for byte") {
  const PrivateKey key = key_from(kKey);
  CHECK(signature_to_hex(key.sign_message("Some data")) == kSomeDataSig);
  CHECK(signature_to_hex(key.sign_message("")) ==
        "0x8a68b4e66cd2b575338e16069d7b65f6f67c7ceae8945dccf8cb7bdb06278d93"
        "3dd9c888f3444ca4698464079a067ad3cfffe96d493b8ecf56885169d0fdfe7d1b");
  CHECK(signature_to_hex(key.sign_message("hello world")) ==
        "0x0d5df3f9681b000a5b3a1d4252803318136714deba10c578f9b33718ad9c816e"
        "5520a6f19168136aa11e38d691d28a422bce4be3bf290fdb8efe45cdaefb20251c");
  CHECK(
      signature_to_hex(key_from("0000000000000000000000000000000000000000000000000000000000000001")
                           .sign_message("hello world")) ==
      "0xb2f2fc7c6a8cba85f3467fbd736a26661b81912ce0734edc6dbdc5fa08f1fc93"
      "4b5844407e3c35ed0f2735b4ccb5660b3452f3738be82fa4ace9873220c43e151c");
}

TEST_CASE("recovery returns the signer; verify rejects tampering") {
  const Address signer = key_from(kKey).address();
  const Signature sig = sig_from(kSomeDataSig);
  auto recovered = recover_message_signer("Some data", sig);
  REQUIRE(recovered.ok());
  CHECK(recovered.value() == signer);
  CHECK(verify_message(signer, "Some data", sig));

  SUBCASE("tampered message") {
    CHECK_FALSE(verify_message(signer, "Some datA", sig));
  }
  SUBCASE("wrong signer") {
    CHECK_FALSE(verify_message(PrivateKey::generate().address(), "Some data", sig));
  }
  SUBCASE("any flipped byte") {
    for (std::size_t i = 0; i < sig.size(); ++i) {
      Signature flipped = sig;
      flipped[i] ^= 0x01;
      CHECK_FALSE(verify_message(signer, "Some data", flipped));
    }
  }
  SUBCASE("v out of range") {
    for (int v : {0, 1, 26, 29, 255}) {
      Signature bad = sig;
      bad[64] = static_cast<std::uint8_t>(v);
      CHECK_FALSE(verify_message(signer, "Some data", bad));
      auto r = recover_message_signer("Some data", bad);
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().kind == ErrorKind::invalid_argument);
    }
  }
  SUBCASE("high-s twin is rejected") {
    // (r, n - s, v ^ 1) is the same ECDSA signature mathematically; EVM tooling refuses it.
    std::array<std::uint8_t, 32> order{};
    REQUIRE(hex_decode_into(kOrderHex, order));
    Signature twin = sig;
    int borrow = 0;
    for (int i = 31; i >= 0; --i) {
      int d = order[i] - sig[32 + i] - borrow;
      borrow = d < 0 ? 1 : 0;
      twin[32 + i] = static_cast<std::uint8_t>(d + (borrow ? 256 : 0));
    }
    twin[64] = sig[64] == 27 ? 28 : 27;
    auto r = recover_message_signer("Some data", twin);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("upper half") != std::string::npos);
  }
  SUBCASE("zero r and s") {
    Signature zero{};
    zero[64] = 27;
    CHECK_FALSE(recover_message_signer("Some data", zero).ok());
  }
}

TEST_CASE("generated keys are distinct, sign, and verify") {
  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) {
    const PrivateKey key = PrivateKey::generate();
    CHECK(seen.insert(key.address().to_string()).second);
    const Signature sig = key.sign_message("receipt 42");
    CHECK(sig == key.sign_message("receipt 42"));  // RFC 6979: deterministic
    CHECK(verify_message(key.address(), "receipt 42", sig));
  }
}

TEST_CASE("keys sign and verify from several threads at once") {
  const PrivateKey key = key_from(kKey);
  const Signature expected = sig_from(kSomeDataSig);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (key.sign_message("Some data") != expected ||
            !verify_message(key.address(), "Some data", expected) ||
            PrivateKey::generate().address() == key.address()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);
}

TEST_CASE("Address::parse and EIP-55") {
  // The EIP-55 specification's own examples.
  for (std::string_view text :
       {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"}) {
    auto address = Address::parse(text);
    REQUIRE(address.ok());
    CHECK(address->to_string() == text);
  }
  auto lower = Address::parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  REQUIRE(lower.ok());
  CHECK(lower->to_string() == "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  CHECK(Address::parse("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED").ok());

  for (std::string_view bad :
       {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD",  // one letter's case flipped
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",   // 39 digits
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00",
        "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",    // no prefix
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",  // non-hex
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea d", ""}) {
    auto address = Address::parse(bad);
    REQUIRE_FALSE(address.ok());
    CHECK(address.error().kind == ErrorKind::invalid_argument);
  }
  auto checksum = Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD");
  CHECK(checksum.error().message.find("checksum") != std::string::npos);

  // A private key pasted into an address field is not echoed back.
  auto pasted = Address::parse(kKey);
  REQUIRE_FALSE(pasted.ok());
  CHECK(pasted.error().message.find("4c0883a6") == std::string::npos);
}

TEST_CASE("signature hex round-trip and syntax errors") {
  const Signature sig = sig_from(kSomeDataSig);
  CHECK(signature_to_hex(sig) == kSomeDataSig);
  CHECK(sig_from(std::string(kSomeDataSig).substr(2)) == sig);
  CHECK_FALSE(signature_from_hex(std::string(kSomeDataSig).substr(0, 130)).ok());
  CHECK_FALSE(signature_from_hex(std::string(kSomeDataSig) + "00").ok());
  CHECK_FALSE(signature_from_hex("0x" + std::string(129, '0') + "z").ok());
}

TEST_CASE("hex helpers") {
  CHECK(hex_encode(std::vector<std::uint8_t>{0x00, 0xab, 0xff}) == "00abff");
  CHECK(hex_decode("00ABff") == std::vector<std::uint8_t>{0x00, 0xab, 0xff});
  CHECK_FALSE(hex_decode("abc").has_value());
  CHECK_FALSE(hex_decode("0g").has_value());
  CHECK(hex_decode("")->empty());
  CHECK(strip_0x("0Xab") == "ab");
  CHECK(strip_0x("ab") == "ab");
  std::array<std::uint8_t, 2> out{1, 2};
  CHECK_FALSE(hex_decode_into("zz00", out));
  CHECK(out == std::array<std::uint8_t, 2>{0, 0});
}
