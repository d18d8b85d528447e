#include "runtime/providers/openai_stream.hpp"

#include <utility>

#include "runtime/http/sse.hpp"
#include "runtime/providers/openai_codec.hpp"

namespace perdiem::providers {

using wire::Json;
using wire::member;
using wire::string_member;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

OpenAiStreamAccumulator::OpenAiStreamAccumulator(std::string provider_name, TextDeltaFn on_text,
                                                 std::int64_t estimated_input_tokens)
    : state_(std::move(provider_name), std::move(on_text), estimated_input_tokens) {}

Status OpenAiStreamAccumulator::feed(std::string_view data) {
  if (state_.failed()) return state_.status();
  if (state_.done()) return Status::success();
  data = trim(data);
  if (data.empty()) return Status::success();
  if (data == "[DONE]") {
    state_.set_done();
    return Status::success();
  }
  const std::optional<Json> chunk = wire::parse(data);
  if (!chunk || !chunk->is_object()) {
    return state_.fail(wire::bad_response(
        "a stream chunk is not a JSON object (" + std::to_string(data.size()) + " bytes)",
        state_.provider()));
  }
  return feed_chunk(*chunk);
}

Status OpenAiStreamAccumulator::feed_chunk(const Json& chunk) {
  const Json* error = member(chunk, "error");
  if ((error != nullptr && !error->is_null()) || string_member(chunk, "object") == "error") {
    return state_.fail(openai::in_band_error(chunk, state_.provider()));
  }
  ChatResponse& response = state_.response();
  if (response.model.empty()) response.model = string_member(chunk, "model");

  if (const Json* usage = member(chunk, "usage"); usage != nullptr && !usage->is_null()) {
    std::optional<Usage> decoded = openai::decode_usage(*usage);
    if (!decoded) {
      return state_.fail(
          wire::bad_response("the stream's usage is not a set of token counts", state_.provider()));
    }
    state_.set_final_usage(*decoded);
    if (const Json* cost = member(*usage, "cost"); cost != nullptr) {
      response.provider_cost_nanos = wire::usd_to_nanos(*cost);
    }
  }

  const Json* choices = member(chunk, "choices");
  if (choices == nullptr || !choices->is_array()) return Status::success();
  for (const Json& choice : *choices) {
    if (const Json* index = member(choice, "index");
        index != nullptr && !(index->is_number_integer() && index->get<std::int64_t>() == 0)) {
      continue;
    }
    if (const Json* delta = member(choice, "delta"); delta != nullptr && delta->is_object()) {
      if (const Json* content = member(*delta, "content");
          content != nullptr && content->is_string()) {
        state_.add_text(content->get_ref<const std::string&>());
      }
      if (const Json* calls = member(*delta, "tool_calls"); calls != nullptr && calls->is_array()) {
        for (const Json& call : *calls) {
          if (Status s = feed_tool_call(call); !s.ok()) return s;
        }
      } else if (const Json* legacy = member(*delta, "function_call");
                 legacy != nullptr && legacy->is_object()) {
        // The pre-tools API streamed one call, without id or index.
        if (Status s = feed_tool_call(Json{{"index", 0}, {"function", *legacy}}); !s.ok()) {
          return s;
        }
      }
    }
    if (std::string reason = string_member(choice, "finish_reason"); !reason.empty()) {
      response.finish_reason = std::move(reason);
    }
  }
  return Status::success();
}

Status OpenAiStreamAccumulator::feed_tool_call(const Json& delta) {
  std::vector<ToolCall>& calls = state_.response().tool_calls;
  const ToolCall piece = openai::decode_tool_call(delta);
  std::size_t slot = 0;
  if (const Json* index = member(delta, "index"); index != nullptr && !index->is_null()) {
    if (!index->is_number_unsigned() || index->get<std::uint64_t>() >= kMaxToolCalls) {
      return state_.fail(wire::bad_response(
          "a streamed tool call has an index that is not below " + std::to_string(kMaxToolCalls),
          state_.provider()));
    }
    slot = static_cast<std::size_t>(index->get<std::uint64_t>());
  } else {
    // Some servers omit the index: a piece with an id not seen yet starts a new call,
    // any other piece continues the call with its id, or the last call.
    slot = calls.size();
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (!piece.id.empty() && calls[i].id == piece.id) slot = i;
    }
    if (slot == calls.size() && piece.id.empty() && !calls.empty()) slot = calls.size() - 1;
    if (slot >= kMaxToolCalls) {
      return state_.fail(wire::bad_response(
          "the stream has more than " + std::to_string(kMaxToolCalls) + " tool calls",
          state_.provider()));
    }
  }
  if (calls.size() <= slot) calls.resize(slot + 1);
  ToolCall& call = calls[slot];
  if (call.id.empty()) call.id = piece.id;  // some servers repeat the id in every piece
  call.name += piece.name;
  call.arguments += piece.arguments;
  if (!piece.name.empty() || !piece.arguments.empty()) state_.note_output();
  return Status::success();
}

StreamOutcome OpenAiStreamAccumulator::finish() {
  // Indexes may skip numbers; a slot nothing arrived for is not a call.
  std::vector<ToolCall>& calls = state_.response().tool_calls;
  std::erase_if(calls, [](const ToolCall& c) {
    return c.id.empty() && c.name.empty() && c.arguments.empty();
  });
  return state_.finish();
}

// ---- server side ----

std::vector<std::string> encode_chat_stream(const ChatResponse& response, std::string_view id,
                                            std::int64_t created, std::size_t piece_chars) {
  std::vector<std::string> events;
  auto chunk = [&](Json delta, Json finish_reason) {
    Json body = {{"id", id},
                 {"object", "chat.completion.chunk"},
                 {"created", created},
                 {"model", response.model},
                 {"choices", Json::array({{{"index", 0},
                                           {"delta", std::move(delta)},
                                           {"finish_reason", std::move(finish_reason)}}})}};
    events.push_back(http::sse_encode(wire::dump(body)));
  };
  chunk({{"role", "assistant"}, {"content", ""}}, nullptr);
  for (std::string_view piece : code_point_pieces(response.content, piece_chars)) {
    chunk({{"content", piece}}, nullptr);
  }
  for (std::size_t i = 0; i < response.tool_calls.size(); ++i) {
    const ToolCall& call = response.tool_calls[i];
    chunk({{"tool_calls", Json::array({{{"index", i},
                                        {"id", call.id},
                                        {"type", "function"},
                                        {"function", {{"name", call.name}, {"arguments", ""}}}}})}},
          nullptr);
    for (std::string_view piece : code_point_pieces(call.arguments, piece_chars)) {
      chunk({{"tool_calls", Json::array({{{"index", i}, {"function", {{"arguments", piece}}}}})}},
            nullptr);
    }
  }
  chunk(Json::object(),
        response.finish_reason.empty() ? Json(nullptr) : Json(response.finish_reason));
  const Json usage = {{"id", id},
                      {"object", "chat.completion.chunk"},
                      {"created", created},
                      {"model", response.model},
                      {"choices", Json::array()},
                      {"usage", openai::encode_usage(response.usage)}};
  events.push_back(http::sse_encode(wire::dump(usage)));
  events.push_back(http::sse_encode("[DONE]"));
  return events;
}

}  // namespace perdiem::providers
