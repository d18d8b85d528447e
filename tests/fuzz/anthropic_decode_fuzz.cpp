// libFuzzer target for Anthropic Messages decoding: a whole response body and the same
// bytes as a streamed body (SSE -> AnthropicStreamAccumulator). Invariants beyond "no
// crash":
//  - a decoded response re-encodes (encode_anthropic_response) to one that decodes with
//    the same usage and number of tool calls;
//  - usage is never negative and the cached parts never exceed the prompt;
//  - the text deltas add up to the streamed content; a stream succeeds only once
//    message_stop arrived; a failure after output is never retryable; a completed
//    stream re-encodes (encode_anthropic_stream) to one that decodes the same shape.
// The corpus (tests/fuzz/corpus/anthropic_decode) is replayed by ctest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/http/sse.hpp"
#include "runtime/providers/anthropic_codec.hpp"
#include "runtime/providers/anthropic_stream.hpp"

namespace {

using namespace perdiem::providers;

bool sane(const Usage& u) {
  return u.input_tokens >= 0 && u.output_tokens >= 0 && u.cached_input_tokens >= 0 &&
         u.cache_write_input_tokens >= 0 &&
         u.cached_input_tokens <= u.input_tokens - u.cache_write_input_tokens;
}

void check_whole(std::string_view body) {
  auto response = decode_anthropic_response(200, body, "fuzz");
  (void)decode_anthropic_response(529, body, "fuzz");
  if (!response.ok()) return;
  if (!sane(response->usage) || response->tool_calls.size() > kMaxToolCalls) __builtin_trap();
  auto again = decode_anthropic_response(200, encode_anthropic_response(*response, "id"), "fuzz");
  if (!again.ok() || again->usage.input_tokens != response->usage.input_tokens ||
      again->usage.cached_input_tokens != response->usage.cached_input_tokens ||
      again->tool_calls.size() != response->tool_calls.size()) {
    __builtin_trap();
  }
}

StreamOutcome run(std::string_view body, std::string* deltas, bool* done) {
  perdiem::http::SseParser parser;
  std::vector<perdiem::http::SseEvent> events;
  (void)parser.feed(body, events);
  AnthropicStreamAccumulator accumulator(
      "fuzz",
      [deltas](std::string_view text) {
        if (deltas != nullptr) deltas->append(text);
      },
      10);
  for (const auto& event : events) {
    if (!accumulator.feed(event.data).ok()) break;
  }
  if (done != nullptr) *done = accumulator.done();
  return accumulator.finish();
}

void check_stream(std::string_view body) {
  std::string deltas;
  bool done = false;
  const StreamOutcome outcome = run(body, &deltas, &done);
  if (deltas != outcome.response.content) __builtin_trap();
  if (outcome.ok() && !done) __builtin_trap();
  if (!outcome.ok() && outcome.output_received && outcome.error->retryable) __builtin_trap();
  if (!sane(outcome.response.usage)) __builtin_trap();
  if (outcome.response.tool_calls.size() > kMaxToolCalls) __builtin_trap();
  if (!outcome.ok()) return;
  std::string replay;
  for (const std::string& e : encode_anthropic_stream(outcome.response, "id", 5)) replay += e;
  const StreamOutcome second = run(replay, nullptr, nullptr);
  if (!second.ok() || second.response.tool_calls.size() != outcome.response.tool_calls.size()) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_whole(input);
  check_stream(input);
  return 0;
}
