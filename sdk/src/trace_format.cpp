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
  using json_text::append_int;
  using json_text::append_key;
  using json_text::append_string;
  std::size_t size = 96 + request.model.size() + request.tool_choice.size();
  for (const providers::Message& message : request.messages) size += 48 + message.content.size();
  std::string out;
  out.reserve(size);
  out += '{';
  if (request.max_tokens) {
    append_key(out, "max_tokens");
    append_int(out, *request.max_tokens);
    out += ',';
  }
  append_key(out, "messages");
  out += '[';
  for (const providers::Message& message : request.messages) {
    if (out.back() != '[') out += ',';
    out += '{';
    append_key(out, "content");
    // As the wire encoder writes it: an assistant turn that only called tools has null.
    const bool calls = message.role == "assistant" && !message.tool_calls.empty();
    if (calls && message.content.empty()) {
      out += "null";
    } else {
      append_string(out, message.content);
    }
    out += ',';
    append_key(out, "role");
    append_string(out, message.role);
    if (calls) {
      out += ',';
      append_key(out, "tool_calls");
      out += '[';
      for (const providers::ToolCall& call : message.tool_calls) {
        if (out.back() != '[') out += ',';
        out += '{';
        append_key(out, "function");
        out += '{';
        append_key(out, "arguments");
        append_string(out, call.arguments);
        out += ',';
        append_key(out, "name");
        append_string(out, call.name);
        out += "},";
        append_key(out, "id");
        append_string(out, call.id);
        out += ",\"type\":\"function\"}";
      }
      out += ']';
    } else if (message.role == "tool") {
      out += ',';
      append_key(out, "tool_call_id");
      append_string(out, message.tool_call_id);
    }
    out += '}';
  }
  out += "],";
  append_key(out, "model");
  append_string(out, request.model);
  out += ",\"stream\":false";
  if (request.temperature) {
    out += ',';
    append_key(out, "temperature");
    out += nlohmann::json(*request.temperature).dump();
  }
  const std::string& choice = request.tool_choice;
  if (choice == "auto" || choice == "none" || choice == "required") {
    out += ',';
    append_key(out, "tool_choice");
    append_string(out, choice);
  } else if (!choice.empty()) {
    out += ',';
    append_key(out, "tool_choice");
    out += '{';
    append_key(out, "function");
    out += '{';
    append_key(out, "name");
    append_string(out, choice);
    out += "},\"type\":\"function\"}";
  }
  out += '}';
  return out;
}

std::string response_text(const providers::ChatResponse& response, std::string_view route_json) {
  using json_text::append_int;
  using json_text::append_key;
  using json_text::append_string;
  std::string out;
  out.reserve(192 + response.content.size() + route_json.size() + response.model.size());
  out += '{';
  append_key(out, "content");
  append_string(out, response.content);
  out += ',';
  append_key(out, "finish_reason");
  append_string(out, response.finish_reason);
  out += ',';
  append_key(out, "model");
  append_string(out, response.model);
  out += ',';
  append_key(out, "provider");
  append_string(out, response.provider);
  out += ',';
  if (!route_json.empty()) {
    append_key(out, "route");
    out += route_json;
    out += ',';
  }
  append_key(out, "tool_calls");
  out += '[';
  for (const providers::ToolCall& call : response.tool_calls) {
    if (out.back() != '[') out += ',';
    out += '{';
    append_key(out, "arguments");
    append_string(out, call.arguments);
    out += ',';
    append_key(out, "id");
    append_string(out, call.id);
    out += ',';
    append_key(out, "name");
    append_string(out, call.name);
    out += '}';
  }
  out += "],";
  append_key(out, "usage");
  out += '{';
  append_key(out, "cached_input_tokens");
  append_int(out, response.usage.cached_input_tokens);
  out += ',';
  append_key(out, "input_tokens");
  append_int(out, response.usage.input_tokens);
  out += ',';
  append_key(out, "output_tokens");
  append_int(out, response.usage.output_tokens);
  out += "}}";
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
