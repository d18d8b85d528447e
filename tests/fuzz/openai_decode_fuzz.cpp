// libFuzzer target for OpenAI-format decoding: a whole response body, the same bytes as
// a streamed body (SSE -> OpenAiStreamAccumulator), and a request body (the mock
// provider's side). Invariants beyond "no crash":
//  - a decoded response re-encodes (encode_chat_response) to one that decodes the same;
//  - usage is never negative and the cached parts never exceed the prompt;
//  - the text deltas add up to the streamed content; a stream succeeds only once [DONE]
//    arrived; a failure after output is never retryable;
//  - a decoded request re-encodes to one that decodes again.
// The corpus (tests/fuzz/corpus/openai_decode) is replayed by ctest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/http/sse.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/openai_stream.hpp"

namespace {

using namespace perdiem::providers;

bool sane(const Usage& u) {
  return u.input_tokens >= 0 && u.output_tokens >= 0 && u.cached_input_tokens >= 0 &&
         u.cache_write_input_tokens >= 0 &&
         u.cached_input_tokens + u.cache_write_input_tokens <= u.input_tokens;
}

void check_whole(std::string_view body) {
  auto response = decode_chat_response(200, body, "fuzz");
  (void)decode_chat_response(429, body, "fuzz");
  if (!response.ok()) return;
  if (!sane(response->usage) || response->tool_calls.size() > kMaxToolCalls) __builtin_trap();
  // Invalid UTF-8 is replaced on the way out, so compare only what survives unchanged.
  auto again = decode_chat_response(200, encode_chat_response(*response, "id", 1), "fuzz");
  if (!again.ok() || again->usage.input_tokens != response->usage.input_tokens) __builtin_trap();
  if (again->tool_calls.size() != response->tool_calls.size()) __builtin_trap();
}

void check_stream(std::string_view body) {
  perdiem::http::SseParser parser;
  std::vector<perdiem::http::SseEvent> events;
  (void)parser.feed(body, events);
  std::string deltas;
  OpenAiStreamAccumulator accumulator(
      "fuzz", [&deltas](std::string_view text) { deltas.append(text); }, 10);
  for (const auto& event : events) {
    if (!accumulator.feed(event.data).ok()) break;
  }
  const bool done = accumulator.done();
  const StreamOutcome outcome = accumulator.finish();
  if (deltas != outcome.response.content) __builtin_trap();
  if (outcome.ok() && !done) __builtin_trap();
  if (!outcome.ok() && outcome.output_received && outcome.error->retryable) __builtin_trap();
  if (!sane(outcome.response.usage)) __builtin_trap();
  if (outcome.ok() && outcome.response.tool_calls.size() > kMaxToolCalls) __builtin_trap();
  // A completed stream re-encodes to a stream that yields the same answer.
  if (outcome.ok()) {
    std::string replay;
    for (const std::string& e : encode_chat_stream(outcome.response, "id", 1, 5)) replay += e;
    perdiem::http::SseParser again_parser;
    std::vector<perdiem::http::SseEvent> again_events;
    OpenAiStreamAccumulator again("fuzz");
    if (!again_parser.feed(replay, again_events).ok()) __builtin_trap();
    for (const auto& event : again_events) (void)again.feed(event.data);
    const StreamOutcome second = again.finish();
    // Bytes that are not valid UTF-8 may change on the way through JSON; the shape may not.
    if (!second.ok() || second.response.tool_calls.size() != outcome.response.tool_calls.size()) {
      __builtin_trap();
    }
  }
}

void check_request(std::string_view body) {
  auto request = decode_chat_request(body);
  if (!request.ok()) return;
  if (!decode_chat_request(encode_chat_request(request->request)).ok()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_whole(input);
  check_stream(input);
  check_request(input);
  return 0;
}
