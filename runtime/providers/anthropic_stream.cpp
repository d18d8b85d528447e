#include "runtime/providers/anthropic_stream.hpp"

#include <utility>

#include "runtime/http/sse.hpp"
#include "runtime/providers/anthropic_codec.hpp"

namespace perdiem::providers {

using wire::Json;
using wire::member;
using wire::string_member;

namespace {

// Content block indexes from here up mean a broken or hostile server.
constexpr std::size_t kMaxContentBlocks = 1024;

// event["index"] when it is a usable block index.
std::optional<std::size_t> block_index(const Json& event) {
  const Json* index = member(event, "index");
  if (index == nullptr || !index->is_number_unsigned()) return std::nullopt;
  const auto i = index->get<std::uint64_t>();
  if (i >= kMaxContentBlocks) return std::nullopt;
  return static_cast<std::size_t>(i);
}

}  // namespace

AnthropicStreamAccumulator::AnthropicStreamAccumulator(std::string provider_name,
                                                       TextDeltaFn on_text,
                                                       std::int64_t estimated_input_tokens)
    : state_(std::move(provider_name), std::move(on_text), estimated_input_tokens) {}

Status AnthropicStreamAccumulator::feed(std::string_view data) {
  if (state_.failed()) return state_.status();
  if (state_.done()) return Status::success();
  const std::optional<Json> event = wire::parse(data);
  if (!event || !event->is_object()) {
    return state_.fail(wire::bad_response(
        "a stream event is not a JSON object (" + std::to_string(data.size()) + " bytes)",
        state_.provider()));
  }
  return feed_event(*event);
}

Status AnthropicStreamAccumulator::feed_event(const Json& event) {
  const std::string type = string_member(event, "type");
  if (type == "content_block_delta") return delta_block(event);
  if (type == "content_block_start") return start_block(event);
  if (type == "message_start") {
    const Json* message = member(event, "message");
    if (message == nullptr) return Status::success();
    state_.response().model = string_member(*message, "model");
    const Json* usage = member(*message, "usage");
    return usage != nullptr && !usage->is_null() ? apply_usage(*usage, /*final=*/false)
                                                 : Status::success();
  }
  if (type == "message_delta") {
    if (const Json* delta = member(event, "delta"); delta != nullptr) {
      if (std::string reason = string_member(*delta, "stop_reason"); !reason.empty()) {
        state_.response().finish_reason = anthropic::finish_reason(reason);
      }
    }
    const Json* usage = member(event, "usage");
    return usage != nullptr && !usage->is_null() ? apply_usage(*usage, /*final=*/true)
                                                 : Status::success();
  }
  if (type == "message_stop") {
    state_.set_done();
    return Status::success();
  }
  if (type == "error") return state_.fail(anthropic::in_band_error(event, state_.provider()));
  // content_block_stop needs nothing; ping and newer event types are ignored.
  return Status::success();
}

Status AnthropicStreamAccumulator::start_block(const Json& event) {
  const std::optional<std::size_t> index = block_index(event);
  const Json* block = member(event, "content_block");
  if (!index || block == nullptr) {
    return state_.fail(
        wire::bad_response("a content block starts without a usable index", state_.provider()));
  }
  if (blocks_.size() <= *index) blocks_.resize(*index + 1);
  const std::string type = string_member(*block, "type");
  Block started;
  if (type == "text") {
    state_.add_text(string_member(*block, "text"));  // usually "", but may carry text
  } else if (type == "tool_use") {
    std::vector<ToolCall>& calls = state_.response().tool_calls;
    if (calls.size() == kMaxToolCalls) {
      return state_.fail(wire::bad_response(
          "the stream has more than " + std::to_string(kMaxToolCalls) + " tool calls",
          state_.provider()));
    }
    const Json* input = member(*block, "input");
    started.is_tool = true;
    started.call = calls.size();
    started.start_input = input != nullptr && !input->is_null() ? wire::dump(*input) : "{}";
    calls.push_back(ToolCall{string_member(*block, "id"), string_member(*block, "name"), ""});
    state_.note_output();
  }
  blocks_[*index] = std::move(started);
  return Status::success();
}

Status AnthropicStreamAccumulator::delta_block(const Json& event) {
  const Json* delta = member(event, "delta");
  const std::string type = delta != nullptr ? string_member(*delta, "type") : std::string();
  if (type == "text_delta") {
    state_.add_text(string_member(*delta, "text"));
    return Status::success();
  }
  if (type != "input_json_delta") return Status::success();  // thinking, signature, ...
  const std::optional<std::size_t> index = block_index(event);
  if (!index || *index >= blocks_.size() || !blocks_[*index] || !blocks_[*index]->is_tool) {
    return state_.fail(wire::bad_response("tool input arrived for a block that is not a tool call",
                                          state_.provider()));
  }
  Block& block = *blocks_[*index];
  const std::string piece = string_member(*delta, "partial_json");
  block.got_delta = true;
  state_.response().tool_calls[block.call].arguments += piece;
  if (!piece.empty()) state_.note_output();
  return Status::success();
}

Status AnthropicStreamAccumulator::apply_usage(const Json& usage, bool final) {
  if (!usage.is_object()) {
    return state_.fail(
        wire::bad_response("the stream's usage is not an object", state_.provider()));
  }
  for (const auto& [name, value] : usage.items()) {
    if (!value.is_null()) usage_[name] = value;
  }
  std::optional<Usage> decoded = anthropic::decode_usage(usage_);
  if (!decoded) {
    return state_.fail(
        wire::bad_response("the stream's usage is not a set of token counts", state_.provider()));
  }
  if (final) {
    state_.set_final_usage(*decoded);
  } else {
    state_.set_early_usage(*decoded);
  }
  return Status::success();
}

StreamOutcome AnthropicStreamAccumulator::finish() {
  std::vector<ToolCall>& calls = state_.response().tool_calls;
  for (const std::optional<Block>& block : blocks_) {
    if (block && block->is_tool && !block->got_delta)
      calls[block->call].arguments = block->start_input;
  }
  return state_.finish();
}

// ---- server side ----

std::vector<std::string> encode_anthropic_stream(const ChatResponse& response, std::string_view id,
                                                 std::size_t piece_chars) {
  std::vector<std::string> events;
  auto emit = [&](const char* type, Json body) {
    events.push_back(http::sse_encode(wire::dump(body), type));
  };
  Json start_usage = anthropic::encode_usage(response.usage);
  start_usage["output_tokens"] = 1;  // as the API does: the count so far
  emit("message_start", {{"type", "message_start"},
                         {"message",
                          {{"id", id},
                           {"type", "message"},
                           {"role", "assistant"},
                           {"model", response.model},
                           {"content", Json::array()},
                           {"stop_reason", nullptr},
                           {"stop_sequence", nullptr},
                           {"usage", std::move(start_usage)}}}});
  emit("ping", {{"type", "ping"}});
  std::size_t index = 0;
  if (!response.content.empty()) {
    emit("content_block_start", {{"type", "content_block_start"},
                                 {"index", index},
                                 {"content_block", {{"type", "text"}, {"text", ""}}}});
    for (std::string_view piece : code_point_pieces(response.content, piece_chars)) {
      emit("content_block_delta", {{"type", "content_block_delta"},
                                   {"index", index},
                                   {"delta", {{"type", "text_delta"}, {"text", piece}}}});
    }
    emit("content_block_stop", {{"type", "content_block_stop"}, {"index", index}});
    ++index;
  }
  for (const ToolCall& call : response.tool_calls) {
    emit("content_block_start", {{"type", "content_block_start"},
                                 {"index", index},
                                 {"content_block",
                                  {{"type", "tool_use"},
                                   {"id", call.id},
                                   {"name", call.name},
                                   {"input", Json::object()}}}});
    for (std::string_view piece : code_point_pieces(call.arguments, piece_chars)) {
      emit("content_block_delta",
           {{"type", "content_block_delta"},
            {"index", index},
            {"delta", {{"type", "input_json_delta"}, {"partial_json", piece}}}});
    }
    emit("content_block_stop", {{"type", "content_block_stop"}, {"index", index}});
    ++index;
  }
  emit("message_delta", {{"type", "message_delta"},
                         {"delta",
                          {{"stop_reason", anthropic::stop_reason(response.finish_reason)},
                           {"stop_sequence", nullptr}}},
                         {"usage", {{"output_tokens", response.usage.output_tokens}}}});
  emit("message_stop", {{"type", "message_stop"}});
  return events;
}

}  // namespace perdiem::providers
