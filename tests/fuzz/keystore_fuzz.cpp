// libFuzzer target for the keystore parser (wallet/keystore.hpp: parse_keystore).
//
// Properties checked on every input: parsing never crashes; whatever parses serializes
// and parses back to the same value; unsealing a parsed file with a wrong passphrase
// fails cleanly. KDF bounds are pinned to the minimum so each run stays fast (a real
// file's costs are bounded by the same check, tested in tests/unit/wallet).
// Seeds: tests/fuzz/corpus/keystore (replayed by tests/unit/wallet/keystore_corpus_test).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "wallet/keystore.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace perdiem::wallet;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  KdfBounds bounds;
  bounds.highest = KdfParams::min();
  auto parsed = parse_keystore(text, bounds);
  if (!parsed.ok()) return 0;

  auto again = parse_keystore(serialize_keystore(parsed.value()), bounds);
  if (!again.ok() || !(again.value() == parsed.value())) std::abort();

  static const auto passphrase = perdiem::base::SecureBuffer::from_string("not the passphrase");
  auto key = unseal_key(parsed.value(), passphrase);
  if (key.ok() && !(key->address() == parsed->address)) std::abort();
  return 0;
}
