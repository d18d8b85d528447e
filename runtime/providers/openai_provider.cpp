#include "runtime/providers/openai_provider.hpp"

#include <utility>

#include "runtime/providers/embeddings_codec.hpp"
#include "runtime/providers/http_chat.hpp"
#include "runtime/providers/openai_codec.hpp"
#include "runtime/providers/openai_stream.hpp"

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
        models_url_(endpoint_url(config_.base_url, "/models")),
        http_(config_.name, config_.api_key, config_.key_env, std::move(transport)) {}

  const std::string& name() const override { return config_.name; }

  Result<ChatResponse> chat(const ChatRequest& request) override {
    ChatCall call;
    return chat_call(request, call);
  }

  Result<ChatResponse> chat_call(const ChatRequest& request, ChatCall& call) override {
    ChatRequest storage;
    const ChatRequest& sent = with_model(request, storage);
    Result<ChatResponse> answer =
        call.on_text
            ? http_.call_streamed(streamed_request(sent), stream_decoder(), decoder(), call)
            : http_.call_whole(whole_request(sent), decoder(), call);
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
      http_.start_streamed(loop, streamed_request(sent), stream_decoder(), decoder(), call,
                           std::move(finish));
    } else {
      http_.start_whole(loop, whole_request(sent), decoder(), call, std::move(finish));
    }
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
      return decode_chat_response(status, body, config_.name);
    };
  }

  StreamDecoderFactory stream_decoder() const {
    return [this](TextDeltaFn on_text) {
      return std::make_unique<OpenAiStreamAccumulator>(config_.name, std::move(on_text));
    };
  }

  http::Request whole_request(const ChatRequest& request) const {
    http::Request http_request = post(url_);
    http_request.body = encode_chat_request(request);
    return http_request;
  }

  http::Request streamed_request(const ChatRequest& request) const {
    http::Request http_request = post(url_);
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
