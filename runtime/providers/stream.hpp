// What the streaming decoders of every wire format share: the outcome of a stream, the
// interface an adapter drives, and the bookkeeping behind "what had arrived when it
// failed" — the part the wallet settles when a stream dies half-way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

// Called with each piece of answer text as it arrives (never with an empty piece).
using TextDeltaFn = std::function<void(std::string_view text)>;

// How a stream ended.
struct StreamOutcome {
  // Complete when ok(). After a failure: what arrived before it (text, the tool calls
  // begun, model), with usage as below.
  ChatResponse response;
  std::optional<Error> error;
  // Any text or tool call had arrived. The provider bills what it generated, so such a
  // failure is never retried blindly: error->retryable is false, and the partial usage
  // is what to settle.
  bool output_received = false;
  // response.usage is the provider's own final count. When false it is an estimate:
  // input is what the provider reported early (Anthropic's message_start) or else the
  // estimate the accumulator was given; output is the larger of any early count and
  // ~4 characters per token of the text and tool calls that arrived.
  bool usage_reported = false;
  // The prompt count in response.usage is the provider's own (its final usage, or
  // Anthropic's message_start), not the caller's estimate.
  bool input_reported = false;

  bool ok() const { return !error.has_value(); }
};

// Turns the data of a provider's server-sent events into a ChatResponse. Feed each
// event's data in order, then call finish() once, at the end of the body or after feed()
// failed. Not thread-safe: one per stream.
class StreamAccumulator {
 public:
  virtual ~StreamAccumulator() = default;
  // Fails when the event carries an error or cannot be decoded; the accumulator then
  // ignores further input and finish() reports that error.
  virtual Status feed(std::string_view data) = 0;
  // The provider said the answer is complete ([DONE], message_stop).
  virtual bool done() const = 0;
  // The outcome. A stream that ended before done() fails with kind transport ("cut
  // off"), retryable only when no output had arrived.
  virtual StreamOutcome finish() = 0;
};

// ~4 characters (code points) per token, rounded up: the estimate for text a provider
// never counted for us.
std::int64_t estimate_tokens(std::string_view text);

// `text` cut into pieces of at most `piece_chars` code points (at least 1), never
// splitting a character: how the server-side stream encoders deal out text.
std::vector<std::string_view> code_point_pieces(std::string_view text, std::size_t piece_chars);

// The bookkeeping every accumulator does; the wire-specific part only decodes events.
class StreamState {
 public:
  StreamState(std::string provider_name, TextDeltaFn on_text, std::int64_t estimated_input_tokens);

  const std::string& provider() const { return provider_; }
  ChatResponse& response() { return response_; }
  bool failed() const { return error_.has_value(); }
  // The recorded failure, or success.
  Status status() const { return error_ ? Status(*error_) : Status::success(); }
  bool done() const { return done_; }
  void set_done() { done_ = true; }

  // Appends answer text and passes it on to the callback.
  void add_text(std::string_view text);
  // Marks that output arrived which add_text did not see (a tool call's name or
  // arguments).
  void note_output() { output_received_ = true; }
  // Records the provider's final usage.
  void set_final_usage(const Usage& usage);
  // Records counts reported before the end (Anthropic's message_start): its input
  // count is then the provider's, never replaced by an estimate.
  void set_early_usage(const Usage& usage) {
    response_.usage = usage;
    input_reported_ = true;
  }

  // Records the first failure and returns it as a Status. A failure after output
  // arrived is never retryable (see StreamOutcome).
  Status fail(Error error);

  StreamOutcome finish();

 private:
  std::string provider_;
  TextDeltaFn on_text_;
  std::int64_t estimated_input_tokens_;
  ChatResponse response_;
  std::optional<Error> error_;
  bool done_ = false;
  bool output_received_ = false;
  bool usage_reported_ = false;
  bool input_reported_ = false;
};

}  // namespace perdiem::providers
