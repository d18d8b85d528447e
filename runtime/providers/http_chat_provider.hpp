// What every HTTP chat adapter does the same way: default the model, send the request
// whole or streamed (blocking, or on an event loop), and name the model in the answer.
// An adapter says only how its wire format looks: the HTTP request for a chat, and the
// decoders for a whole answer and for a stream. Internal to runtime/providers.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "runtime/providers/http_chat.hpp"
#include "runtime/providers/provider.hpp"

namespace perdiem::providers {

class HttpChatProvider : public Provider {
 public:
  Result<ChatResponse> chat(const ChatRequest& request) override {
    ChatCall call;
    return chat_call(request, call);
  }

  // Streamed when the caller reads text as it arrives (call.on_text), whole otherwise.
  Result<ChatResponse> chat_call(const ChatRequest& request, ChatCall& call) override {
    ChatRequest storage;
    const ChatRequest& sent = with_model(request, storage);
    Result<ChatResponse> answer =
        call.on_text
            ? http().call_streamed(request_for(sent, true, call), stream_decoder(), decoder(), call)
            : http().call_whole(request_for(sent, false, call), decoder(), call);
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
      http().start_streamed(loop, request_for(sent, true, call), stream_decoder(), decoder(),
                            call, std::move(finish));
    } else {
      http().start_whole(loop, request_for(sent, false, call), decoder(), call,
                         std::move(finish));
    }
  }

 protected:
  // The adapter's HTTP driver (it holds the key the adapter's config owns, so the
  // adapter keeps both) and the model a call naming none is sent to ("" = as is).
  virtual const HttpChat& http() const = 0;
  virtual const std::string& default_model() const = 0;
  // The HTTP request for `request` in the provider's wire format, streamed or whole.
  virtual http::Request chat_request(const ChatRequest& request, bool stream) const = 0;
  virtual WholeDecoder decoder() const = 0;
  virtual StreamDecoderFactory stream_decoder() const = 0;

 private:
  // The wire request, abandoned when the call's caller says so.
  http::Request request_for(const ChatRequest& request, bool stream, const ChatCall& call) const {
    http::Request wire = chat_request(request, stream);
    wire.abandon = call.abandon;
    return wire;
  }

  // `request`, or a copy in `storage` naming the default model when it names none.
  const ChatRequest& with_model(const ChatRequest& request, ChatRequest& storage) const {
    if (!request.model.empty() || default_model().empty()) return request;
    storage = request;
    storage.model = default_model();
    return storage;
  }

  static Result<ChatResponse> named(Result<ChatResponse> answer, const std::string& model) {
    if (answer && answer->model.empty()) answer->model = model;
    return answer;
  }
};

}  // namespace perdiem::providers
