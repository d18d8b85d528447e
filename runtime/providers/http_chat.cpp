#include "runtime/providers/http_chat.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/http/retry_after.hpp"
#include "runtime/http/sse.hpp"
#include "runtime/providers/presets.hpp"
#include "runtime/providers/text.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers {

namespace {

bool is_success(long status) {
  return status >= 200 && status < 300;
}

bool is_event_stream(std::string content_type) {
  std::transform(content_type.begin(), content_type.end(), content_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return content_type.starts_with("text/event-stream");
}

// Everything one streamed exchange learns, filled by the transport's callbacks.
struct StreamExchange {
  enum class Body { none_yet, events, error, not_events };
  Body body = Body::none_yet;
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string error_body;  // the body of a non-2xx answer
  http::SseParser parser;
  std::vector<http::SseEvent> events;
  std::unique_ptr<StreamAccumulator> decoder;
  bool decoder_failed = false;     // the decoder rejected an event (it holds the error)
  std::optional<Error> sse_error;  // the event framing itself was broken
};

// A ChatCall may be reused across attempts: nothing from an earlier one may linger.
void clear_findings(ChatCall& call) {
  call.http_status.reset();
  call.retry_after.reset();
  call.partial_output = false;
  call.partial_usage.reset();
  call.partial_text.clear();
  call.ttft_us.reset();
}

}  // namespace

HttpChat::HttpChat(std::string provider, const base::SecureBuffer& api_key, std::string key_env,
                   std::shared_ptr<http::Transport> transport)
    : provider_(std::move(provider)),
      api_key_(api_key),
      key_env_(std::move(key_env)),
      transport_(std::move(transport)) {}

Error HttpChat::polished(Error error) const {
  if (error.source.empty()) error.source = provider_;
  if (error.kind == ErrorKind::auth) {
    const std::string var = key_env_.empty() ? kGenericKeyEnv : key_env_;
    error.message +=
        api_key_.empty() ? "; no API key was sent: set " + var : "; check the API key in " + var;
  }
  text::redact(error.message, api_key_.view());
  text::redact(error.source, api_key_.view());
  return error;
}

Result<http::Response> HttpChat::redacted(Result<http::Response> answer) const {
  if (!answer) return polished(answer.error());
  text::redact(answer->body, api_key_.view());
  return answer;
}

Result<http::Response> HttpChat::send(const http::Request& request) const {
  return redacted(transport_->send(request));
}

Result<ChatResponse> HttpChat::finish_whole(Result<http::Response> answer,
                                            const WholeDecoder& decode, ChatCall& call) const {
  if (!answer) return answer.error();
  call.http_status = static_cast<int>(answer->status);
  call.retry_after = http::retry_after(*answer);
  Result<ChatResponse> decoded = decode(answer->status, answer->body);
  if (!decoded) return polished(decoded.error());
  decoded->provider_headers = kept_response_headers(answer->headers);
  return decoded;
}

Result<ChatResponse> HttpChat::call_whole(const http::Request& request, const WholeDecoder& decode,
                                          ChatCall& call) const {
  clear_findings(call);
  return finish_whole(send(request), decode, call);
}

// One streamed exchange: hook() gives the request the callbacks that fill it, finish()
// turns what they gathered and the transfer's end into the call's result. The blocking
// path keeps it on the stack; the asynchronous one in its completion.
class HttpChat::Streamed {
 public:
  Streamed(const HttpChat& chat, const StreamDecoderFactory& make_decoder,
           WholeDecoder decode_error, ChatCall& call)
      : chat_(chat),
        decode_error_(std::move(decode_error)),
        call_(call),
        started_(std::chrono::steady_clock::now()) {
    clear_findings(call);
    exchange_.decoder = make_decoder([this](std::string_view text) {
      if (!call_.ttft_us) {
        call_.ttft_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::steady_clock::now() - started_)
                            .count();
      }
      if (call_.on_text) call_.on_text(text);
    });
  }
  Streamed(const Streamed&) = delete;
  Streamed& operator=(const Streamed&) = delete;

  // The callbacks refer to *this, which must outlive the transfer.
  void hook(http::Request& request) {
    request.on_head = [this](const http::Response& head) { return on_head(head); };
    request.on_body_chunk = [this](std::string_view chunk) { return on_chunk(chunk); };
  }

  Result<ChatResponse> finish(const Result<http::Response>& sent);

 private:
  using Body = StreamExchange::Body;

  bool on_head(const http::Response& head) {
    exchange_.status = head.status;
    exchange_.headers = head.headers;
    call_.http_status = static_cast<int>(head.status);
    call_.retry_after = http::retry_after(head);
    exchange_.content_type = head.header("content-type");
    if (!is_success(head.status)) {
      exchange_.body = Body::error;
    } else if (is_event_stream(exchange_.content_type)) {
      exchange_.body = Body::events;
    } else {
      exchange_.body = Body::not_events;
      return false;
    }
    return true;
  }

  bool on_chunk(std::string_view chunk) {
    if (exchange_.body == Body::error) {
      exchange_.error_body.append(chunk);
      return true;
    }
    exchange_.events.clear();
    const Status framed = exchange_.parser.feed(chunk, exchange_.events);
    for (http::SseEvent& event : exchange_.events) {
      text::redact(event.data, chat_.api_key_.view());
      if (!exchange_.decoder->feed(event.data).ok()) {
        exchange_.decoder_failed = true;
        return false;
      }
      if (call_.stop_requested) {
        stopped_by_reader_ = true;
        return false;
      }
    }
    if (!framed.ok()) {
      exchange_.sse_error = framed.error();
      return false;
    }
    return true;
  }

  const HttpChat& chat_;
  const WholeDecoder decode_error_;
  ChatCall& call_;
  const std::chrono::steady_clock::time_point started_;
  StreamExchange exchange_;
  bool stopped_by_reader_ = false;  // call.stop_requested ended the transfer
};

Result<ChatResponse> HttpChat::Streamed::finish(const Result<http::Response>& sent) {
  const std::string& provider = chat_.provider_;
  switch (exchange_.body) {
    case Body::none_yet:
      if (!sent) return chat_.polished(sent.error());
      return chat_.polished(
          wire::bad_response("the answer to a streamed request has no head", provider));
    case Body::not_events:
      return chat_.polished(wire::bad_response(
          "the provider answered a streamed request with content type '" +
              text::excerpt(exchange_.content_type, 64) +
              "' instead of an event stream (text/event-stream); check the base URL",
          provider));
    case Body::error: {
      text::redact(exchange_.error_body, chat_.api_key_.view());
      Result<ChatResponse> decoded = decode_error_(exchange_.status, exchange_.error_body);
      if (!decoded) return chat_.polished(decoded.error());
      return chat_.polished(wire::http_error(exchange_.status, {}, provider));
    }
    case Body::events:
      break;
  }

  StreamOutcome outcome = exchange_.decoder->finish();
  if (outcome.ok()) {
    outcome.response.provider_headers = kept_response_headers(exchange_.headers);
    return std::move(outcome.response);
  }
  Error error = *outcome.error;
  if (stopped_by_reader_) {
    error = make_error(ErrorKind::cancelled,
                       "the stream was stopped by its reader after " +
                           std::to_string(outcome.response.content.size()) + " bytes of text",
                       provider);
  } else if (!exchange_.decoder_failed) {
    // The decoder only saw the stream end early; the transport knows why.
    if (exchange_.sse_error) {
      error = *exchange_.sse_error;
    } else if (!sent && sent.error().kind != ErrorKind::cancelled) {
      error = sent.error();
      if (outcome.output_received) error.message += ", after part of the answer had arrived";
    }
  }
  if (!exchange_.decoder_failed && outcome.output_received) error.retryable = false;
  call_.partial_output = outcome.output_received;
  if (outcome.output_received) call_.partial_text = outcome.response.content;
  if (outcome.output_received && outcome.input_reported) {
    call_.partial_usage = outcome.response.usage;
  }
  return chat_.polished(std::move(error));
}

Result<ChatResponse> HttpChat::call_streamed(http::Request request,
                                             const StreamDecoderFactory& make_decoder,
                                             const WholeDecoder& decode_error,
                                             ChatCall& call) const {
  Streamed streamed(*this, make_decoder, decode_error, call);
  streamed.hook(request);
  return streamed.finish(transport_->send(request));
}

namespace {

// The outcome of an asynchronous transfer; a callback's exception becomes an error
// rather than escaping the completion (which would end the process).
Result<http::Response> settled(http::Outcome outcome, const std::string& provider) {
  if (!outcome.thrown) return std::move(outcome.result);
  try {
    std::rethrow_exception(outcome.thrown);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("a streaming callback threw: ") + e.what(),
                      provider);
  } catch (...) {
    return make_error(ErrorKind::internal, "a streaming callback threw", provider);
  }
}

}  // namespace

void HttpChat::start_whole(http::EventLoop& loop, http::Request request, WholeDecoder decode,
                           ChatCall& call, ChatDone done) const {
  clear_findings(call);
  loop.submit(std::move(request), [this, decode = std::move(decode), &call,
                                   done = std::move(done)](http::Outcome outcome) {
    done(finish_whole(redacted(settled(std::move(outcome), provider_)), decode, call));
  });
}

void HttpChat::start_streamed(http::EventLoop& loop, http::Request request,
                              const StreamDecoderFactory& make_decoder, WholeDecoder decode_error,
                              ChatCall& call, ChatDone done) const {
  auto streamed = std::make_shared<Streamed>(*this, make_decoder, std::move(decode_error), call);
  streamed->hook(request);
  loop.submit(std::move(request), [this, streamed, done = std::move(done)](http::Outcome outcome) {
    Result<http::Response> sent = settled(std::move(outcome), provider_);
    done(streamed->finish(sent));
  });
}

}  // namespace perdiem::providers
