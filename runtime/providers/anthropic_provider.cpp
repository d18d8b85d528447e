#include "runtime/providers/anthropic_provider.hpp"

#include <utility>

#include "runtime/providers/anthropic_codec.hpp"
#include "runtime/providers/anthropic_stream.hpp"
#include "runtime/providers/http_chat.hpp"

namespace perdiem::providers {

namespace {

class AnthropicProvider final : public Provider {
 public:
  AnthropicProvider(AnthropicProviderConfig config, std::shared_ptr<http::Transport> transport)
      : config_(std::move(config)),
        url_(messages_url(config_.base_url)),
        http_(config_.name, config_.api_key, config_.key_env, std::move(transport)) {}

  const std::string& name() const override { return config_.name; }

  Result<ChatResponse> chat(const ChatRequest& request) override {
    ChatCall call;
    return chat_call(request, call);
  }

  Result<ChatResponse> chat_call(const ChatRequest& request, ChatCall& call) override {
    const ChatRequest* sent = &request;
    ChatRequest with_model;
    if (request.model.empty() && !config_.default_model.empty()) {
      with_model = request;
      with_model.model = config_.default_model;
      sent = &with_model;
    }
    const std::string& provider = config_.name;
    const WholeDecoder decode = [&provider](long status, std::string_view body) {
      return decode_anthropic_response(status, body, provider);
    };
    AnthropicEncodeOptions options;
    options.default_max_tokens = config_.default_max_tokens;
    options.stream = static_cast<bool>(call.on_text);

    http::Request http_request;
    http_request.method = "POST";
    http_request.url = url_;
    http_request.headers = {{"content-type", "application/json"},
                            {"anthropic-version", std::string(kAnthropicVersion)},
                            {"accept", options.stream ? "text/event-stream" : "application/json"}};
    if (!config_.api_key.empty()) {
      http_request.bearer_token = &config_.api_key;
      http_request.key_header = "x-api-key";
    }
    http_request.timeout = config_.timeout;
    http_request.max_response_bytes = config_.max_response_bytes;
    http_request.body = encode_anthropic_request(*sent, options);

    if (options.stream) {
      http_request.first_byte_timeout = config_.stream_first_byte_timeout;
      http_request.idle_timeout = config_.stream_idle_timeout;
      const StreamDecoderFactory make_decoder = [&provider](TextDeltaFn on_text) {
        return std::make_unique<AnthropicStreamAccumulator>(provider, std::move(on_text));
      };
      return finish(http_.call_streamed(std::move(http_request), make_decoder, decode, call),
                    *sent);
    }
    return finish(http_.call_whole(http_request, decode, call), *sent);
  }

 private:
  static std::string messages_url(std::string_view base_url) {
    while (base_url.ends_with('/')) base_url.remove_suffix(1);
    return std::string(base_url) + "/messages";
  }

  static Result<ChatResponse> finish(Result<ChatResponse> answer, const ChatRequest& sent) {
    if (answer && answer->model.empty()) answer->model = sent.model;
    return answer;
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
