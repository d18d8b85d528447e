#include "runtime/providers/stream.hpp"

#include <algorithm>
#include <utility>

#include "runtime/providers/text.hpp"

namespace perdiem::providers {

std::int64_t estimate_tokens(std::string_view text) {
  return static_cast<std::int64_t>((text::length(text) + 3) / 4);
}

std::vector<std::string_view> code_point_pieces(std::string_view text, std::size_t piece_chars) {
  std::vector<std::string_view> out;
  if (piece_chars == 0) piece_chars = 1;
  while (!text.empty()) {
    const std::string_view head = text::prefix(text, piece_chars);
    out.push_back(head);
    text.remove_prefix(head.size());
  }
  return out;
}

StreamState::StreamState(std::string provider_name, TextDeltaFn on_text,
                         std::int64_t estimated_input_tokens)
    : provider_(std::move(provider_name)),
      on_text_(std::move(on_text)),
      estimated_input_tokens_(std::max<std::int64_t>(0, estimated_input_tokens)) {
  response_.provider = provider_;
}

void StreamState::add_text(std::string_view text) {
  if (text.empty()) return;
  output_received_ = true;
  response_.content.append(text);
  if (on_text_) on_text_(text);
}

void StreamState::set_final_usage(const Usage& usage) {
  response_.usage = usage;
  usage_reported_ = true;
}

Status StreamState::fail(Error error) {
  if (error_) return *error_;
  if (error.source.empty()) error.source = provider_;
  if (output_received_) error.retryable = false;
  error_ = std::move(error);
  return *error_;
}

StreamOutcome StreamState::finish() {
  if (!error_ && !done_) {
    std::string message = "the stream was cut off before the answer was complete";
    if (output_received_) message += ", after part of the answer had arrived";
    (void)fail(make_error(ErrorKind::transport, std::move(message), provider_,
                          /*retryable=*/true));
  }
  StreamOutcome outcome;
  outcome.response = response_;
  outcome.error = error_;
  outcome.output_received = output_received_;
  outcome.usage_reported = usage_reported_;
  outcome.input_reported = usage_reported_ || input_reported_;
  if (!usage_reported_) {
    // Never settle for less than what was visibly generated: the provider bills at
    // least that much. A prompt count the provider gave is its own; only a missing one
    // falls back to the caller's estimate.
    std::int64_t output = estimate_tokens(response_.content);
    for (const ToolCall& call : response_.tool_calls) {
      output += estimate_tokens(call.name) + estimate_tokens(call.arguments);
    }
    Usage& usage = outcome.response.usage;
    if (!input_reported_) usage.input_tokens = estimated_input_tokens_;
    usage.output_tokens = std::max(usage.output_tokens, output);
  }
  return outcome;
}

}  // namespace perdiem::providers
