#include "runtime/providers/openai_provider.hpp"

#include <utility>

#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/text.hpp"

namespace perdiem::providers {

namespace {

std::string chat_url(std::string_view base_url) {
  while (base_url.ends_with('/')) base_url.remove_suffix(1);
  return std::string(base_url) + "/chat/completions";
}

class OpenAiProvider final : public Provider {
 public:
  OpenAiProvider(OpenAiProviderConfig config, std::shared_ptr<http::Transport> transport)
      : config_(std::move(config)),
        url_(chat_url(config_.base_url)),
        transport_(std::move(transport)) {}

  const std::string& name() const override { return config_.name; }

  Result<ChatResponse> chat(const ChatRequest& request) override {
    http::Request http_request;
    http_request.method = "POST";
    http_request.url = url_;
    http_request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!config_.api_key.empty()) http_request.bearer_token = &config_.api_key;
    http_request.timeout = config_.timeout;
    http_request.max_response_bytes = config_.max_response_bytes;
    if (request.model.empty() && !config_.default_model.empty()) {
      ChatRequest with_model = request;
      with_model.model = config_.default_model;
      http_request.body = encode_chat_request(with_model);
    } else {
      http_request.body = encode_chat_request(request);
    }

    Result<http::Response> answer = transport_->send(http_request);
    if (!answer) return scrubbed(answer.error());

    http::Response& response = answer.value();
    // A server may quote our Authorization header back, in an error or even in a 200.
    // The key goes before decoding so no excerpt can keep it, even cut in half, and no
    // answer carries it on into traces.
    text::redact(response.body, config_.api_key.view());
    Result<ChatResponse> decoded =
        decode_chat_response(response.status, response.body, config_.name);
    if (!decoded) return scrubbed(with_key_hint(decoded.error()));
    if (decoded->model.empty()) {
      decoded->model = request.model.empty() ? config_.default_model : request.model;
    }
    return decoded;
  }

 private:
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
  const std::shared_ptr<http::Transport> transport_;
};

}  // namespace

std::unique_ptr<Provider> make_openai_provider(OpenAiProviderConfig config,
                                               std::shared_ptr<http::Transport> transport) {
  return std::make_unique<OpenAiProvider>(std::move(config), std::move(transport));
}

}  // namespace perdiem::providers
