// Streamed Anthropic Messages: the event sequence of a "stream": true answer turned back
// into one ChatResponse, and, for the mock provider and tests, a response turned into
// that sequence.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/providers/stream.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers {

// Feed it the data of each server-sent event of a 2xx answer; events are told apart by
// the data's "type", as Anthropic advises (the SSE event name repeats it).
//  - message_start: model, and usage so far (input and cache counts).
//  - content_block_start / content_block_delta / content_block_stop, by block index:
//    text blocks and text_delta are appended and passed to `on_text`; a tool_use block
//    starts a tool call (id, name) whose input_json_delta pieces are its arguments (its
//    start "input", "{}", when no piece came). Thinking and other block kinds are skipped.
//  - message_delta: stop_reason (as anthropic::finish_reason) and the final usage; its
//    counts are cumulative and override message_start's.
//  - message_stop completes the stream; later events are ignored. ping is ignored, and
//    so are event types newer than this code, as Anthropic asks of clients.
//  - error fails the stream like anthropic::in_band_error (overloaded_error: a
//    provider error, retryable only if nothing had arrived). Data that is not a JSON
//    object, bad usage, a delta for a tool block never started, a block index from 1024
//    up or more than kMaxToolCalls tool calls fail it with bad_response.
class AnthropicStreamAccumulator final : public StreamAccumulator {
 public:
  // `estimated_input_tokens`: see OpenAiStreamAccumulator.
  explicit AnthropicStreamAccumulator(std::string provider_name, TextDeltaFn on_text = {},
                                      std::int64_t estimated_input_tokens = 0);

  Status feed(std::string_view data) override;
  bool done() const override { return state_.done(); }
  StreamOutcome finish() override;

 private:
  struct Block {
    bool is_tool = false;
    std::size_t call = 0;     // the tool call's position in response().tool_calls
    std::string start_input;  // content_block.input as sent, used if no delta arrives
    bool got_delta = false;
  };

  Status feed_event(const wire::Json& event);
  Status start_block(const wire::Json& event);
  Status delta_block(const wire::Json& event);
  Status apply_usage(const wire::Json& usage, bool final);

  StreamState state_;
  std::vector<std::optional<Block>> blocks_;  // by content block index
  wire::Json usage_ = wire::Json::object();   // the cumulative raw counts so far
};

// ---- server side (the mock provider, tests) ----

// `response` as the server-sent events of a streamed answer, each complete with its
// "event:" line and blank line, in the documented order: message_start, ping, a text
// block (deltas of `piece_chars` code points) when there is text, a tool_use block per
// tool call (input_json_delta pieces), message_delta with stop_reason and usage,
// message_stop. Concatenated they are the body.
std::vector<std::string> encode_anthropic_stream(const ChatResponse& response, std::string_view id,
                                                 std::size_t piece_chars = 16);

}  // namespace perdiem::providers
