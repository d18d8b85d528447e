// Replays the grant and receipt fuzz corpora (tests/fuzz/corpus/{grant,receipt,
// stored_receipt}) through the parsers the fuzz targets drive, so every seed, and every
// crash once found, stays a test.
// Naming: valid-* must parse and carry a good signature; tampered-* must parse but fail the
// signature check; bad-* must be refused; anything else (files libFuzzer adds) must merely
// not crash.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "wallet/grants.hpp"
#include "wallet/receipts.hpp"
#include "wallet/stored_receipt.hpp"

using namespace perdiem::wallet;

namespace {

template <typename Fn>
void replay(const char* corpus, Fn check) {
  const std::filesystem::path dir =
      std::filesystem::path(PERDIEM_SOURCE_DIR) / "tests/fuzz/corpus" / corpus;
  REQUIRE(std::filesystem::is_directory(dir));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    check(name, text.str());
    ++files;
  }
  CHECK(files > 0);
}

bool starts(const std::string& name, const char* prefix) { return name.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("grant fuzz corpus replays cleanly") {
  replay("grant", [](const std::string& name, const std::string& text) {
    auto grant = parse_grant(text);
    auto revocation = parse_revocation(text);
    bool signed_ok = (grant.ok() && check_grant_signature(*grant).ok()) ||
                     (revocation.ok() && check_revocation_signature(*revocation).ok());
    if (starts(name, "valid")) {
      CHECK(signed_ok);
      if (grant.ok()) CHECK(grant_message(parse_grant(grant_to_json(*grant)).value()) == grant_message(*grant));
    } else if (starts(name, "tampered")) {
      CHECK((grant.ok() || revocation.ok()));
      CHECK(!signed_ok);
    } else if (starts(name, "bad")) {
      CHECK(!grant.ok());
      CHECK(!revocation.ok());
    }
  });
}

TEST_CASE("receipt fuzz corpus replays cleanly") {
  replay("receipt", [](const std::string& name, const std::string& text) {
    auto receipt = parse_receipt(text);
    if (starts(name, "valid")) {
      REQUIRE(receipt.ok());
      CHECK(verify_receipt(*receipt).ok());
      CHECK(receipt_message(parse_receipt(receipt_to_json(*receipt)).value()) ==
            receipt_message(*receipt));
    } else if (starts(name, "tampered")) {
      REQUIRE(receipt.ok());
      CHECK(!verify_receipt(*receipt).ok());
    } else if (starts(name, "bad")) {
      CHECK(!receipt.ok());
    }
  });
}

TEST_CASE("stored receipt fuzz corpus replays cleanly") {
  replay("stored_receipt", [](const std::string& name, const std::string& bytes) {
    auto receipt =
        unpack_receipt({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
    if (starts(name, "valid")) {
      REQUIRE(receipt.ok());
      CHECK(verify_receipt(*receipt).ok());
      CHECK(pack_receipt(*receipt) == bytes);
    } else if (starts(name, "bad")) {
      CHECK(!receipt.ok());
    }
  });
}

// valid-batched-v2.bin was packed from receipt/batched-v2.json by
// tests/fuzz/pack_stored_receipt.py, written from stored_receipt.hpp's layout, not from
// perdiem's code (the test fuzz.stored_receipt.documented_layout runs it): the packing
// and the document agree.
TEST_CASE("the pinned packed receipt is the pinned JSON receipt, packed") {
  const auto read = [](const char* path) {
    std::ifstream in(std::filesystem::path(PERDIEM_SOURCE_DIR) / "tests/fuzz/corpus" / path,
                     std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  auto receipt = parse_receipt(read("receipt/batched-v2.json"));
  REQUIRE(receipt.ok());
  REQUIRE(packable(*receipt));
  CHECK(pack_receipt(*receipt) == read("stored_receipt/valid-batched-v2.bin"));
}
