#include "runtime/providers/anthropic_provider.hpp"

#include <utility>

#include "runtime/providers/anthropic_codec.hpp"
#include "runtime/providers/anthropic_stream.hpp"
#include "runtime/providers/http_chat.hpp"
#include "runtime/providers/http_chat_provider.hpp"

namespace perdiem::providers {

namespace {

class AnthropicProvider final : public HttpChatProvider {
 public:
  AnthropicProvider(AnthropicProviderConfig config, std::shared_ptr<http::Transport> transport)
      : config_(std::move(config)),
        url_(messages_url(config_.base_url)),
        http_(config_.name, config_.api_key, config_.key_env, std::move(transport)) {}

  const std::string& name() const override { return config_.name; }

 private:
  static std::string messages_url(std::string_view base_url) {
    while (base_url.ends_with('/')) base_url.remove_suffix(1);
    return std::string(base_url) + "/messages";
  }

  const HttpChat& http() const override { return http_; }
  const std::string& default_model() const override { return config_.default_model; }

  WholeDecoder decoder() const override {
    return [this](long status, std::string_view body) {
      return decode_anthropic_response(status, body, config_.name);
    };
  }

  StreamDecoderFactory stream_decoder() const override {
    return [this](TextDeltaFn on_text) {
      return std::make_unique<AnthropicStreamAccumulator>(config_.name, std::move(on_text));
    };
  }

  http::Request chat_request(const ChatRequest& sent, bool stream) const override {
    AnthropicEncodeOptions options;
    options.default_max_tokens = config_.default_max_tokens;
    options.stream = stream;
    http::Request request;
    request.method = "POST";
    request.url = url_;
    request.headers = {{"content-type", "application/json"},
                       {"anthropic-version", std::string(kAnthropicVersion)},
                       {"accept", stream ? "text/event-stream" : "application/json"}};
    if (!config_.api_key.empty()) {
      request.bearer_token = &config_.api_key;
      request.key_header = "x-api-key";
    }
    request.timeout = config_.timeout;
    request.max_response_bytes = config_.max_response_bytes;
    request.body = encode_anthropic_request(sent, options);
    if (stream) {
      request.first_byte_timeout = config_.stream_first_byte_timeout;
      request.idle_timeout = config_.stream_idle_timeout;
    }
    return request;
  }

  const AnthropicProviderConfig config_;
  const std::string url_;
  const HttpChat http_;
};

}  // namespace

std::unique_ptr<Provider> make_anthropic_provider(AnthropicProviderConfig config,
                                                  std::shared_ptr<http::Transport> transport) {
  return std::make_unique<AnthropicProvider>(std::move(config), std::move(transport));
}

}  // namespace perdiem::providers
