// Streamed OpenAI chat completions: the chunks of a "stream": true answer (see
// encode_chat_stream_request) turned back into one ChatResponse, and, for the mock
// provider and tests, a response turned into such chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/providers/stream.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers {

// Feed it the data of each server-sent event of a 2xx answer (an SseParser's
// SseEvent::data; event names are ignored, as OpenAI sends none).
//  - "[DONE]" completes the stream; anything after it is ignored.
//  - choices[0].delta.content is appended and passed to `on_text` as it arrives.
//  - delta.tool_calls are assembled by their "index": the id and name come first, the
//    arguments in pieces; several calls may interleave. A piece without an index joins
//    the call with its id, or the last one. Indexes from kMaxToolCalls up fail.
//  - The last non-empty finish_reason and first non-empty model are kept.
//  - A chunk's non-null "usage" is the final count (stream_options.include_usage; the
//    chunk has no choices); OpenRouter's usage.cost becomes provider_cost_nanos.
//  - A chunk carrying an "error" object (OpenRouter, vLLM, OpenAI itself) fails the
//    stream like openai::in_band_error; a chunk that is not a JSON object, or usage that
//    is not a set of token counts, fails it with bad_response.
// Only choice 0 is read: perdiem never asks for n > 1.
class OpenAiStreamAccumulator final : public StreamAccumulator {
 public:
  // `estimated_input_tokens` is the caller's estimate of the prompt (the one the wallet
  // reserved on): the input count settled if the stream ends without reporting usage.
  explicit OpenAiStreamAccumulator(std::string provider_name, TextDeltaFn on_text = {},
                                   std::int64_t estimated_input_tokens = 0);

  Status feed(std::string_view data) override;
  bool done() const override { return state_.done(); }
  StreamOutcome finish() override;

 private:
  Status feed_chunk(const wire::Json& chunk);
  Status feed_tool_call(const wire::Json& delta);

  StreamState state_;
};

// ---- server side (the mock provider, tests) ----

// `response` as the server-sent events of a streamed answer, each complete with its
// blank line, in order: the role, the content in pieces of `piece_chars` code points,
// each tool call (id and name, then its arguments in pieces), the finish reason, the
// usage chunk (empty choices), and "data: [DONE]". Concatenated they are the body.
std::vector<std::string> encode_chat_stream(const ChatResponse& response, std::string_view id,
                                            std::int64_t created, std::size_t piece_chars = 16);

}  // namespace perdiem::providers
