// libFuzzer target for the grant and revocation parsers (pure: bytes in, value or error).
// Invariants beyond "no crash": a parsed grant re-serializes to JSON that parses back to
// the same canonical message, and checking its signature never crashes.
// The corpus (tests/fuzz/corpus/grant) is replayed by tests/unit/wallet/grant_receipt_corpus_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wallet/grants.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace perdiem::wallet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto grant = parse_grant(text);
  if (grant.ok()) {
    auto again = parse_grant(grant_to_json(*grant));
    if (!again.ok() || grant_message(*again) != grant_message(*grant)) __builtin_trap();
    (void)check_grant_signature(*grant);
  }
  auto revocation = parse_revocation(text);
  if (revocation.ok()) {
    auto again = parse_revocation(revocation_to_json(*revocation));
    if (!again.ok() || revocation_message(*again) != revocation_message(*revocation))
      __builtin_trap();
    (void)check_revocation_signature(*revocation);
  }
  return 0;
}
