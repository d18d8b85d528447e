#include "sdk/src/trace_format.hpp"

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/openai_codec.hpp"

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
