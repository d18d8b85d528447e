#include "runtime/providers/openai_provider.hpp"

#include <utility>

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/text.hpp"

namespace perdiem::providers {

namespace {

std::string endpoint_url(std::string_view base_url, std::string_view path) {
  while (base_url.ends_with('/')) base_url.remove_suffix(1);
  return std::string(base_url) + std::string(path);
}

class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(OpenAiProviderConfig config, std::shared_ptr<http::Transport> transport)
      : config_(std::move(config)),
        url_(endpoint_url(config_.base_url, "/chat/completions")),
        embeddings_url_(endpoint_url(config_.base_url, "/embeddings")),
        transport_(std::move(transport)) {}

  const std::string& name() const override { return config_.name; }

  Result<ChatResponse> chat(const ChatRequest& request) override {
    http::Request http_request = post(url_);
    if (request.model.empty() && !config_.default_model.empty()) {
      ChatRequest with_model = request;
      with_model.model = config_.default_model;
      http_request.body = encode_chat_request(with_model);
    } else {
      http_request.body = encode_chat_request(request);
    }

    Result<http::Response> answer = send(http_request);
    if (!answer) return answer.error();
    Result<ChatResponse> decoded = decode_chat_response(answer->status, answer->body, config_.name);
    if (!decoded) return scrubbed(with_key_hint(decoded.error()));
    if (decoded->model.empty()) {
      decoded->model = request.model.empty() ? config_.default_model : request.model;
    }
    return decoded;
  }

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
    Result<http::Response> answer = send(http_request);
    if (!answer) return answer.error();
    Result<EmbedResponse> decoded =
        decode_embed_response(answer->status, answer->body, request.inputs.size(), config_.name);
    if (!decoded) return scrubbed(with_key_hint(decoded.error()));
    decoded->provider = config_.name;
    if (decoded->model.empty()) decoded->model = named.model;
    return decoded;
  }

 private:
  http::Request post(const std::string& url) const {
    http::Request http_request;
    http_request.method = "POST";
    http_request.url = url;
    http_request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!config_.api_key.empty()) http_request.bearer_token = &config_.api_key;
    http_request.timeout = config_.timeout;
    http_request.max_response_bytes = config_.max_response_bytes;
    return http_request;
  }

  // Sends, and takes the key out of whatever comes back: a server may quote our
  // Authorization header, in an error or even in a 200. The key goes before decoding so
  // no excerpt can keep it, even cut in half, and no answer carries it into traces.
  Result<http::Response> send(const http::Request& http_request) const {
    Result<http::Response> answer = transport_->send(http_request);
    if (!answer) return scrubbed(answer.error());
    text::redact(answer->body, config_.api_key.view());
    return answer;
  }

  Error with_key_hint(Error error) const {
    if (error.kind != ErrorKind::auth) return error;
    const std::string var = config_.key_env.empty() ? kGenericKeyEnv : config_.key_env;
    error.message += config_.api_key.empty() ? "; no API key was sent: set " + var
                                             : "; check the API key in " + var;
    return error;
  }

  // Every error leaves with this provider as its source and without the key in it.
  Error scrubbed(Error error) const {
    if (error.source.empty()) error.source = config_.name;
    text::redact(error.message, config_.api_key.view());
    text::redact(error.source, config_.api_key.view());
    return error;
  }

  const OpenAiProviderConfig config_;
  const std::string url_;
  const std::string embeddings_url_;
  const std::shared_ptr<http::Transport> transport_;
};

}  // namespace

std::unique_ptr<Provider> make_openai_provider(OpenAiProviderConfig config,
                                               std::shared_ptr<http::Transport> transport) {
  return std::make_unique<OpenAiProvider>(std::move(config), std::move(transport));
}

}  // namespace perdiem::providers
