#include "runtime/providers/openai_provider.hpp"

#include <utility>

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/http_chat.hpp"
#include "runtime/providers/http_chat_provider.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/openai_stream.hpp"

namespace perdiem::providers {

namespace {

std::string endpoint_url(std::string_view base_url, std::string_view path) {
  while (base_url.ends_with('/')) base_url.remove_suffix(1);
  return std::string(base_url) + std::string(path);
}

class OpenAiProvider final : public HttpChatProvider {
 public:
  OpenAiProvider(OpenAiProviderConfig config, std::shared_ptr<http::Transport> transport)
      : config_(std::move(config)),
        url_(endpoint_url(config_.base_url, "/chat/completions")),
        embeddings_url_(endpoint_url(config_.base_url, "/embeddings")),
        models_url_(endpoint_url(config_.base_url, "/models")),
        http_(config_.name, config_.api_key, config_.key_env, std::move(transport)) {}

  const std::string& name() const override { return config_.name; }

  Result<EmbedResponse> embed(const EmbedRequest& request) override {
    if (request.inputs.empty() || request.inputs.size() > kMaxEmbedInputs) {
      return make_error(
          ErrorKind::invalid_argument,
          "an embeddings request takes 1 to " + std::to_string(kMaxEmbedInputs) + " texts",
          config_.name);
    }
    http::Request http_request = post(embeddings_url_);
    EmbedRequest named = request;
    if (named.model.empty()) named.model = config_.default_model;
    http_request.body = encode_embed_request(named);
    Result<http::Response> answer = http_.send(http_request);
    if (!answer) return answer.error();
    Result<EmbedResponse> decoded =
        decode_embed_response(answer->status, answer->body, request.inputs.size(), config_.name);
    if (!decoded) return http_.polished(decoded.error());
    decoded->provider = config_.name;
    if (decoded->model.empty()) decoded->model = named.model;
    return decoded;
  }

  Result<std::vector<ListedModel>> list_models() override {
    http::Request http_request = post(models_url_);
    http_request.method = "GET";
    http_request.headers = {{"Accept", "application/json"}};
    Result<http::Response> answer = http_.send(http_request);
    if (!answer) return answer.error();
    Result<std::vector<ListedModel>> models =
        decode_models_response(answer->status, answer->body, config_.name);
    if (!models) return http_.polished(models.error());
    return models;
  }

 private:
  const HttpChat& http() const override { return http_; }
  const std::string& default_model() const override { return config_.default_model; }

  WholeDecoder decoder() const override {
    return [this](long status, std::string_view body) {
      return decode_chat_response(status, body, config_.name);
    };
  }

  StreamDecoderFactory stream_decoder() const override {
    return [this](TextDeltaFn on_text) {
      return std::make_unique<OpenAiStreamAccumulator>(config_.name, std::move(on_text));
    };
  }

  http::Request chat_request(const ChatRequest& request, bool stream) const override {
    http::Request http_request = post(url_);
    if (!stream) {
      http_request.body = encode_chat_request(request);
      return http_request;
    }
    http_request.body = encode_chat_stream_request(request);
    http_request.headers = {{"Content-Type", "application/json"}, {"Accept", "text/event-stream"}};
    http_request.first_byte_timeout = config_.stream_first_byte_timeout;
    http_request.idle_timeout = config_.stream_idle_timeout;
    return http_request;
  }

  http::Request post(const std::string& url) const {
    http::Request http_request;
    http_request.method = "POST";
    http_request.url = url;
    http_request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!config_.api_key.empty()) http_request.bearer_token = &config_.api_key;
    http_request.timeout = config_.timeout;
    http_request.max_response_bytes = config_.max_response_bytes;
    http_request.reuse_connection = config_.reuse_connection;
    return http_request;
  }

  const OpenAiProviderConfig config_;
  const std::string url_;
  const std::string embeddings_url_;
  const std::string models_url_;
  const HttpChat http_;
};

}  // namespace

std::unique_ptr<Provider> make_openai_provider(OpenAiProviderConfig config,
                                               std::shared_ptr<http::Transport> transport) {
  return std::make_unique<OpenAiProvider>(std::move(config), std::move(transport));
}

}  // namespace perdiem::providers
