// libFuzzer target for Retry-After parsing (runtime/http/retry_after.hpp): the input is
// a header value from an untrusted server, tried as retry-after and as retry-after-ms.
// Invariants beyond "no crash": any delay is within [0, kMaxRetryAfter]; the answer
// depends only on the headers and `now`; a valid retry-after-ms wins over retry-after.
// The corpus (tests/fuzz/corpus/retry_after) is replayed by ctest (fuzz.retry_after.corpus).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "runtime/http/retry_after.hpp"

namespace {

using perdiem::http::kMaxRetryAfter;
using perdiem::http::Response;
using perdiem::http::retry_after;

bool in_range(const std::optional<std::chrono::milliseconds>& delay) {
  return !delay || (delay->count() >= 0 && *delay <= kMaxRetryAfter);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string value(reinterpret_cast<const char*>(data), size);
  // A fixed clock, so a date's delay does not drift between the two reads below.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));

  Response seconds_or_date;
  seconds_or_date.headers = {{"retry-after", value}};
  const auto first = retry_after(seconds_or_date, now);
  if (!in_range(first) || retry_after(seconds_or_date, now) != first) __builtin_trap();

  Response ms;
  ms.headers = {{"retry-after-ms", value}, {"retry-after", "5"}};
  const auto from_ms = retry_after(ms, now);
  if (!from_ms || !in_range(from_ms)) __builtin_trap();  // falls back to the 5 seconds
  return 0;
}
