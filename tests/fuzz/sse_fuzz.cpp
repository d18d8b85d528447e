// libFuzzer target for the SSE parser (runtime/http/sse.hpp). Invariants beyond "no
// crash": the events and the failure are the same whether the input arrives whole or one
// byte at a time, and every event survives sse_encode -> parse unchanged.
// The corpus (tests/fuzz/corpus/sse) is replayed by ctest (fuzz.sse.corpus).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/http/sse.hpp"

namespace {

using perdiem::http::SseEvent;
using perdiem::http::SseLimits;
using perdiem::http::SseParser;

bool same(const SseEvent& a, const SseEvent& b) {
  return a.event == b.event && a.data == b.data && a.id == b.id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // A small limit as well as the default, so the oversize path is reached too.
  for (const SseLimits limits : {SseLimits{}, SseLimits{256}}) {
    SseParser whole(limits);
    std::vector<SseEvent> whole_events;
    const bool whole_ok = whole.feed(input, whole_events).ok();

    SseParser bytewise(limits);
    std::vector<SseEvent> byte_events;
    bool byte_ok = true;
    for (std::size_t i = 0; i < size && byte_ok; ++i) {
      byte_ok = bytewise.feed(input.substr(i, 1), byte_events).ok();
    }
    if (whole_ok != byte_ok || whole_events.size() != byte_events.size()) __builtin_trap();
    for (std::size_t i = 0; i < whole_events.size(); ++i) {
      if (!same(whole_events[i], byte_events[i])) __builtin_trap();
    }
    if (whole_ok && whole.has_partial_event() != bytewise.has_partial_event()) __builtin_trap();

    for (const SseEvent& event : whole_events) {
      SseParser again;
      std::vector<SseEvent> round;
      if (!again.feed(perdiem::http::sse_encode(event.data, event.event), round).ok() ||
          round.size() != 1 || round[0].event != event.event || round[0].data != event.data) {
        __builtin_trap();
      }
    }
  }
  return 0;
}
