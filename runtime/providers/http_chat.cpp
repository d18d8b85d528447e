#include "runtime/providers/http_chat.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
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

Result<http::Response> HttpChat::send(const http::Request& request) const {
  Result<http::Response> answer = transport_->send(request);
  if (!answer) return polished(answer.error());
  text::redact(answer->body, api_key_.view());
  return answer;
}

Result<ChatResponse> HttpChat::call_whole(const http::Request& request, const WholeDecoder& decode,
                                          ChatCall& call) const {
  clear_findings(call);
  Result<http::Response> answer = send(request);
  if (!answer) return answer.error();
  call.http_status = static_cast<int>(answer->status);
  call.retry_after = http::retry_after(*answer);
  Result<ChatResponse> decoded = decode(answer->status, answer->body);
  if (!decoded) return polished(decoded.error());
  decoded->provider_headers = kept_response_headers(answer->headers);
  return decoded;
}

Result<ChatResponse> HttpChat::call_streamed(http::Request request,
                                             const StreamDecoderFactory& make_decoder,
                                             const WholeDecoder& decode_error,
                                             ChatCall& call) const {
  using Body = StreamExchange::Body;
  clear_findings(call);
  const auto started = std::chrono::steady_clock::now();
  StreamExchange exchange;
  exchange.decoder = make_decoder([&call, started](std::string_view text) {
    if (!call.ttft_us) {
      call.ttft_us = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    }
    if (call.on_text) call.on_text(text);
  });

  request.on_head = [&](const http::Response& head) {
    exchange.status = head.status;
    exchange.headers = head.headers;
    call.http_status = static_cast<int>(head.status);
    call.retry_after = http::retry_after(head);
    exchange.content_type = head.header("content-type");
    if (!is_success(head.status)) {
      exchange.body = Body::error;
    } else if (is_event_stream(exchange.content_type)) {
      exchange.body = Body::events;
    } else {
      exchange.body = Body::not_events;
      return false;
    }
    return true;
  };
  request.on_body_chunk = [&](std::string_view chunk) {
    if (exchange.body == Body::error) {
      exchange.error_body.append(chunk);
      return true;
    }
    exchange.events.clear();
    const Status framed = exchange.parser.feed(chunk, exchange.events);
    for (http::SseEvent& event : exchange.events) {
      text::redact(event.data, api_key_.view());
      if (!exchange.decoder->feed(event.data).ok()) {
        exchange.decoder_failed = true;
        return false;
      }
    }
    if (!framed.ok()) {
      exchange.sse_error = framed.error();
      return false;
    }
    return true;
  };

  Result<http::Response> sent = transport_->send(request);
  switch (exchange.body) {
    case Body::none_yet:
      if (!sent) return polished(sent.error());
      return polished(
          wire::bad_response("the answer to a streamed request has no head", provider_));
    case Body::not_events:
      return polished(wire::bad_response(
          "the provider answered a streamed request with content type '" +
              text::excerpt(exchange.content_type, 64) +
              "' instead of an event stream (text/event-stream); check the base URL",
          provider_));
    case Body::error: {
      text::redact(exchange.error_body, api_key_.view());
      Result<ChatResponse> decoded = decode_error(exchange.status, exchange.error_body);
      if (!decoded) return polished(decoded.error());
      return polished(wire::http_error(exchange.status, {}, provider_));
    }
    case Body::events:
      break;
  }

  StreamOutcome outcome = exchange.decoder->finish();
  if (outcome.ok()) {
    outcome.response.provider_headers = kept_response_headers(exchange.headers);
    return std::move(outcome.response);
  }
  Error error = *outcome.error;
  if (!exchange.decoder_failed) {
    // The decoder only saw the stream end early; the transport knows why.
    if (exchange.sse_error) {
      error = *exchange.sse_error;
    } else if (!sent && sent.error().kind != ErrorKind::cancelled) {
      error = sent.error();
      if (outcome.output_received) error.message += ", after part of the answer had arrived";
    }
    if (outcome.output_received) error.retryable = false;
  }
  call.partial_output = outcome.output_received;
  if (outcome.output_received) call.partial_text = outcome.response.content;
  if (outcome.output_received && outcome.input_reported) {
    call.partial_usage = outcome.response.usage;
  }
  return polished(std::move(error));
}

}  // namespace perdiem::providers
