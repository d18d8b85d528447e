// libFuzzer target for the receipt parser (pure: bytes in, value or error).
// Invariants beyond "no crash": a parsed receipt re-serializes to JSON that parses back to
// the same canonical message, and verifying it never crashes.
// The corpus (tests/fuzz/corpus/receipt) is replayed by tests/unit/wallet/grant_receipt_corpus_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wallet/receipts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace perdiem::wallet;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto receipt = parse_receipt(text);
  if (receipt.ok()) {
    auto again = parse_receipt(receipt_to_json(*receipt));
    if (!again.ok() || receipt_message(*again) != receipt_message(*receipt)) __builtin_trap();
    (void)verify_receipt(*receipt);
  }
  return 0;
}
