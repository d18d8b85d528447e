// libFuzzer target for unpacking a stored tab receipt (pure: bytes in, value or error).
// Invariants beyond "no crash": bytes that unpack are exactly what packing the receipt
// gives back (one form per receipt), and verifying it never crashes.
// The corpus (tests/fuzz/corpus/stored_receipt) is replayed by
// tests/unit/wallet/grant_receipt_corpus_test.cpp.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "wallet/stored_receipt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace perdiem::wallet;
  auto receipt = unpack_receipt({data, size});
  if (receipt.ok()) {
    if (!packable(*receipt)) __builtin_trap();
    const std::string again = pack_receipt(*receipt);
    if (std::string_view(again) != std::string_view(reinterpret_cast<const char*>(data), size))
      __builtin_trap();
    (void)verify_receipt(*receipt);
  }
  return 0;
}
