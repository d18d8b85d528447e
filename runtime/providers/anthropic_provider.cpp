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
    ChatRequest storage;
    const ChatRequest& sent = with_model(request, storage);
    const bool stream = static_cast<bool>(call.on_text);
    Result<ChatResponse> answer =
        stream ? http_.call_streamed(http_request(sent, true), stream_decoder(), decoder(), call)
               : http_.call_whole(http_request(sent, false), decoder(), call);
    return named(std::move(answer), sent.model);
  }

  void start_chat(const ChatRequest& request, ChatCall& call, http::EventLoop& loop,
                  ChatDone done) override {
    ChatRequest storage;
    const ChatRequest& sent = with_model(request, storage);
    ChatDone finish = [model = sent.model, done = std::move(done)](Result<ChatResponse> answer) {
      done(named(std::move(answer), model));
    };
    if (call.on_text) {
      http_.start_streamed(loop, http_request(sent, true), stream_decoder(), decoder(), call,
                           std::move(finish));
    } else {
      http_.start_whole(loop, http_request(sent, false), decoder(), call, std::move(finish));
    }
  }

 private:
  static std::string messages_url(std::string_view base_url) {
    while (base_url.ends_with('/')) base_url.remove_suffix(1);
    return std::string(base_url) + "/messages";
  }

  // `request`, or a copy in `storage` naming the default model when it names none.
  const ChatRequest& with_model(const ChatRequest& request, ChatRequest& storage) const {
    if (!request.model.empty() || config_.default_model.empty()) return request;
    storage = request;
    storage.model = config_.default_model;
    return storage;
  }

  static Result<ChatResponse> named(Result<ChatResponse> answer, const std::string& model) {
    if (answer && answer->model.empty()) answer->model = model;
    return answer;
  }

  WholeDecoder decoder() const {
    return [this](long status, std::string_view body) {
      return decode_anthropic_response(status, body, config_.name);
    };
  }

  StreamDecoderFactory stream_decoder() const {
    return [this](TextDeltaFn on_text) {
      return std::make_unique<AnthropicStreamAccumulator>(config_.name, std::move(on_text));
    };
  }

  http::Request http_request(const ChatRequest& sent, bool stream) const {
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
