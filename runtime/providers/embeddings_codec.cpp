#include "runtime/providers/embeddings_codec.hpp"

#include <cmath>
#include <optional>

#include "runtime/providers/wire.hpp"

namespace perdiem::providers {
namespace {

using wire::Json;

// One data[] entry's vector, or the reason it is unusable.
Result<std::vector<float>> decode_vector(const Json& entry, const std::string& provider) {
  const Json* embedding = wire::member(entry, "embedding");
  if (embedding == nullptr || !embedding->is_array() || embedding->empty()) {
    return wire::bad_response("an embedding is missing or empty", provider);
  }
  if (embedding->size() > kMaxEmbedDimensions) {
    return wire::bad_response("an embedding has " + std::to_string(embedding->size()) +
                                  " dimensions, more than the " +
                                  std::to_string(kMaxEmbedDimensions) + " accepted",
                              provider);
  }
  std::vector<float> vector;
  vector.reserve(embedding->size());
  for (const Json& value : *embedding) {
    if (!value.is_number()) return wire::bad_response("an embedding holds a non-number", provider);
    const double number = value.get<double>();
    if (!std::isfinite(number) || std::fabs(number) > 3.0e38) {
      return wire::bad_response("an embedding holds a non-finite value", provider);
    }
    vector.push_back(static_cast<float>(number));
  }
  return vector;
}

}  // namespace

std::string encode_embed_request(const EmbedRequest& request) {
  Json body = Json::object();
  if (!request.model.empty()) body["model"] = request.model;
  body["input"] = request.inputs;
  body["encoding_format"] = "float";
  return wire::dump(body);
}

Result<EmbedResponse> decode_embed_response(long http_status, std::string_view body,
                                            std::size_t expected_count,
                                            const std::string& provider_name) {
  Result<Json> doc = wire::parse_response(http_status, body, provider_name);
  if (!doc) return doc.error();
  const Json* data = wire::member(*doc, "data");
  if (data == nullptr || !data->is_array()) {
    if (wire::member(*doc, "error") != nullptr) {
      return wire::http_error(502, wire::error_detail(*doc), provider_name);
    }
    return wire::bad_response("the response has no \"data\" array of embeddings", provider_name);
  }
  if (data->size() != expected_count) {
    return wire::bad_response("the response has " + std::to_string(data->size()) +
                                  " embeddings for " + std::to_string(expected_count) + " inputs",
                              provider_name);
  }
  EmbedResponse response;
  response.vectors.resize(expected_count);
  std::size_t position = 0;
  for (const Json& entry : *data) {
    std::size_t index = position++;
    if (const Json* given = wire::member(entry, "index")) {
      if (!given->is_number_unsigned() || given->get<std::uint64_t>() >= expected_count) {
        return wire::bad_response("an embedding's index is out of range", provider_name);
      }
      index = static_cast<std::size_t>(given->get<std::uint64_t>());
    }
    if (!response.vectors[index].empty()) {
      return wire::bad_response("two embeddings claim index " + std::to_string(index),
                                provider_name);
    }
    Result<std::vector<float>> vector = decode_vector(entry, provider_name);
    if (!vector) return vector.error();
    response.vectors[index] = std::move(*vector);
  }
  for (const auto& vector : response.vectors) {
    if (vector.size() != response.vectors.front().size()) {
      return wire::bad_response("the embeddings differ in dimension", provider_name);
    }
  }
  response.model = wire::string_member(*doc, "model");
  if (const Json* usage = wire::member(*doc, "usage")) {
    std::optional<std::int64_t> prompt = wire::token_count(*usage, "prompt_tokens");
    if (!prompt) return wire::bad_response("the usage counts are not token counts", provider_name);
    response.usage.input_tokens = *prompt;
  }
  return response;
}

Result<EmbedRequest> decode_embed_request(std::string_view body) {
  std::optional<Json> doc = wire::parse(body);
  if (!doc || !doc->is_object()) {
    return make_error(ErrorKind::invalid_argument, "the body is not a JSON object");
  }
  EmbedRequest request;
  request.model = wire::string_member(*doc, "model");
  const Json* input = wire::member(*doc, "input");
  if (input != nullptr && input->is_string()) {
    request.inputs.push_back(input->get<std::string>());
  } else if (input != nullptr && input->is_array() && !input->empty() &&
             input->size() <= kMaxEmbedInputs) {
    for (const Json& text : *input) {
      if (!text.is_string()) break;
      request.inputs.push_back(text.get<std::string>());
    }
  }
  if (request.inputs.empty() || (input->is_array() && request.inputs.size() != input->size())) {
    return make_error(ErrorKind::invalid_argument,
                      "\"input\" must be a string or a non-empty array of at most " +
                          std::to_string(kMaxEmbedInputs) + " strings");
  }
  return request;
}

std::string encode_embed_response(const EmbedResponse& response) {
  Json data = Json::array();
  for (std::size_t i = 0; i < response.vectors.size(); ++i) {
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", response.vectors[i]}});
  }
  Json body = {{"object", "list"},
               {"data", std::move(data)},
               {"model", response.model},
               {"usage",
                {{"prompt_tokens", response.usage.input_tokens},
                 {"total_tokens", response.usage.input_tokens}}}};
  return wire::dump(body);
}

}  // namespace perdiem::providers
