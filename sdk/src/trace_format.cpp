#include "sdk/src/trace_format.hpp"

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "sdk/src/json_text.hpp"

namespace perdiem::sdk {
namespace {

Error unreadable(const std::string& what) {
  return make_error(ErrorKind::bad_response, "the recorded " + what +
                                                 " cannot be read: the trace is damaged or was "
                                                 "written by another version");
}

}  // namespace

nlohmann::json request_document(const providers::ChatRequest& request) {
  return nlohmann::json::parse(providers::encode_chat_request(request));
}

std::string request_text(const providers::ChatRequest& request) {
  // Tool and response schemas are arbitrary JSON whose keys dump() sorts: those requests
  // take the document's way.
  if (!request.tools.empty() || request.response_format) return request_document(request).dump();
  std::size_t size = 96 + request.model.size() + request.tool_choice.size();
  for (const providers::Message& message : request.messages) size += 48 + message.content.size();
  std::string out;
  out.reserve(size);
  json_text::Writer json(out);
  json.begin_object();
  if (request.max_tokens) json.field("max_tokens", *request.max_tokens);
  json.key("messages").begin_array();
  for (const providers::Message& message : request.messages) {
    json.begin_object().key("content");
    // As the wire encoder writes it: an assistant turn that only called tools has null.
    const bool calls = message.role == "assistant" && !message.tool_calls.empty();
    if (calls && message.content.empty()) {
      json.raw("null");
    } else {
      json.string(message.content);
    }
    json.field("role", message.role);
    if (calls) {
      json.key("tool_calls").begin_array();
      for (const providers::ToolCall& call : message.tool_calls) {
        json.begin_object()
            .key("function")
            .begin_object()
            .field("arguments", call.arguments)
            .field("name", call.name)
            .end_object()
            .field("id", call.id)
            .field("type", "function")
            .end_object();
      }
      json.end_array();
    } else if (message.role == "tool") {
      json.field("tool_call_id", message.tool_call_id);
    }
    json.end_object();
  }
  json.end_array().field("model", request.model).key("stream").raw("false");
  if (request.temperature) json.key("temperature").raw(nlohmann::json(*request.temperature).dump());
  const std::string& choice = request.tool_choice;
  if (choice == "auto" || choice == "none" || choice == "required") {
    json.field("tool_choice", choice);
  } else if (!choice.empty()) {
    json.key("tool_choice")
        .begin_object()
        .key("function")
        .begin_object()
        .field("name", choice)
        .end_object()
        .field("type", "function")
        .end_object();
  }
  json.end_object();
  return out;
}

std::string response_text(const providers::ChatResponse& response, std::string_view route_json) {
  std::string out;
  out.reserve(192 + response.content.size() + route_json.size() + response.model.size());
  json_text::Writer json(out);
  json.begin_object()
      .field("content", response.content)
      .field("finish_reason", response.finish_reason)
      .field("model", response.model)
      .field("provider", response.provider);
  if (!route_json.empty()) json.key("route").raw(route_json);
  json.key("tool_calls").begin_array();
  for (const providers::ToolCall& call : response.tool_calls) {
    json.begin_object()
        .field("arguments", call.arguments)
        .field("id", call.id)
        .field("name", call.name)
        .end_object();
  }
  json.end_array()
      .key("usage")
      .begin_object()
      .field("cached_input_tokens", response.usage.cached_input_tokens)
      .field("input_tokens", response.usage.input_tokens)
      .field("output_tokens", response.usage.output_tokens)
      .end_object()
      .end_object();
  return out;
}

nlohmann::json request_document(const providers::EmbedRequest& request) {
  return nlohmann::json::parse(providers::encode_embed_request(request));
}

nlohmann::json response_document(const providers::ChatResponse& response) {
  nlohmann::json calls = nlohmann::json::array();
  for (const auto& call : response.tool_calls) {
    calls.push_back({{"id", call.id}, {"name", call.name}, {"arguments", call.arguments}});
  }
  return {{"content", response.content},
          {"model", response.model},
          {"provider", response.provider},
          {"finish_reason", response.finish_reason},
          {"tool_calls", std::move(calls)},
          {"usage",
           {{"input_tokens", response.usage.input_tokens},
            {"output_tokens", response.usage.output_tokens},
            {"cached_input_tokens", response.usage.cached_input_tokens}}}};
}

nlohmann::json response_document(const providers::EmbedResponse& response) {
  return {{"model", response.model},
          {"provider", response.provider},
          {"vectors", response.vectors},
          {"usage", {{"input_tokens", response.usage.input_tokens}}}};
}

Result<providers::ChatResponse> chat_response_from(const nlohmann::json& document) {
  try {
    providers::ChatResponse response;
    response.content = document.at("content").get<std::string>();
    response.model = document.at("model").get<std::string>();
    response.provider = document.at("provider").get<std::string>();
    response.finish_reason = document.at("finish_reason").get<std::string>();
    for (const auto& call : document.at("tool_calls")) {
      response.tool_calls.push_back({call.at("id").get<std::string>(),
                                     call.at("name").get<std::string>(),
                                     call.at("arguments").get<std::string>()});
    }
    const auto& usage = document.at("usage");
    response.usage.input_tokens = usage.at("input_tokens").get<std::int64_t>();
    response.usage.output_tokens = usage.at("output_tokens").get<std::int64_t>();
    response.usage.cached_input_tokens = usage.at("cached_input_tokens").get<std::int64_t>();
    return response;
  } catch (const nlohmann::json::exception&) {
    return unreadable("answer");
  }
}

Result<providers::EmbedResponse> embed_response_from(const nlohmann::json& document) {
  try {
    providers::EmbedResponse response;
    response.model = document.at("model").get<std::string>();
    response.provider = document.at("provider").get<std::string>();
    response.vectors = document.at("vectors").get<std::vector<std::vector<float>>>();
    response.usage.input_tokens = document.at("usage").at("input_tokens").get<std::int64_t>();
    return response;
  } catch (const nlohmann::json::exception&) {
    return unreadable("embeddings");
  }
}

}  // namespace perdiem::sdk
