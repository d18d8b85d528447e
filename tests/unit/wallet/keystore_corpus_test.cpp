// Replays the keystore fuzz corpus (tests/fuzz/corpus/keystore) through the parser that
// the fuzz target drives, so every seed and every crash once found stays a test.
// Naming: valid-* must parse (and open with the passphrase below), bad-* must be refused,
// anything else (files libFuzzer adds) must merely not crash.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "wallet/keystore.hpp"

using namespace perdiem;
using namespace perdiem::wallet;

// The corpus's valid keystores seal the key 0x4c0883a6…2318 under this passphrase.
constexpr std::string_view kCorpusPassphrase = "correct horse battery staple";
constexpr std::string_view kCorpusAddress = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";

TEST_CASE("keystore fuzz corpus replays cleanly") {
  const std::filesystem::path dir =
      std::filesystem::path(PERDIEM_SOURCE_DIR) / "tests/fuzz/corpus/keystore";
  REQUIRE(std::filesystem::is_directory(dir));
  int valid = 0;
  int bad = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    CAPTURE(name);
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = parse_keystore(text.str());
    if (name.rfind("valid", 0) == 0) {
      ++valid;
      REQUIRE(parsed.ok());
      CHECK(parse_keystore(serialize_keystore(parsed.value())).value() == parsed.value());
      auto key = unseal_key(parsed.value(), base::SecureBuffer::from_string(kCorpusPassphrase));
      REQUIRE(key.ok());
      CHECK(key->address().to_string() == kCorpusAddress);
    } else if (name.rfind("bad", 0) == 0) {
      ++bad;
      CHECK_FALSE(parsed.ok());
    }
  }
  CHECK(valid >= 1);
  CHECK(bad >= 1);
}
