// One chat call over HTTP, the part every HTTP adapter shares: send the request whole or
// streamed, keep the key out of whatever comes back, and record in the ChatCall what the
// router needs to decide about a retry (status, Retry-After, partial output). The
// adapters (openai_provider, anthropic_provider) only build requests and pick decoders.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"
#include "runtime/http/event_loop.hpp"
#include "runtime/http/transport.hpp"
#include "runtime/providers/provider.hpp"
#include "runtime/providers/stream.hpp"

namespace perdiem::providers {

// Decodes a whole answer of any status (decode_chat_response, decode_anthropic_response).
using WholeDecoder = std::function<Result<ChatResponse>(long http_status, std::string_view body)>;
// A fresh decoder for one stream's events that passes text on to `on_text`.
using StreamDecoderFactory = std::function<std::unique_ptr<StreamAccumulator>(TextDeltaFn on_text)>;

// Thread-safe: holds only immutable settings and the (thread-safe) transport. `api_key`
// must outlive it; it is only read, to take it out of answers and errors. Each call comes
// blocking (call_whole, call_streamed: over the transport) or asynchronous (start_whole,
// start_streamed: over an EventLoop's submit()); both run the same code around the
// exchange, so they encode, decode, stream, redact and map errors alike.
class HttpChat {
 public:
  HttpChat(std::string provider, const base::SecureBuffer& api_key, std::string key_env,
           std::shared_ptr<http::Transport> transport);

  // Sends `request` and returns the response with every copy of the key in its body
  // replaced by "[redacted]": a server may quote our credentials, in an error or even
  // in a 200, and the key must go before decoding so no excerpt keeps half of it.
  Result<http::Response> send(const http::Request& request) const;

  // Both calls first clear what an earlier attempt left in `call` (status, Retry-After,
  // partial output, ttft), keeping only on_text.
  //
  // A non-streamed call: sends, fills call.http_status and call.retry_after, decodes the
  // whole body, keeps the headers kept_response_headers() names.
  Result<ChatResponse> call_whole(const http::Request& request, const WholeDecoder& decode,
                                  ChatCall& call) const;

  // A streamed call (`request` asks for a stream; call.on_text receives the text, and
  // may set call.stop_requested: the transfer then stops and the call fails with kind
  // `cancelled`, partial output filled, unless the answer had already ended):
  //  - 2xx with content type text/event-stream: the events go through an SseParser and
  //    the decoder `make_decoder` builds; the key is redacted from each event's data;
  //  - 2xx with another content type: bad_response, nothing decoded;
  //  - any other status: the body is read whole and mapped by `decode_error` (its JSON
  //    error body gives the kind and message, as for a non-streamed call).
  // Fills call.http_status, retry_after, ttft_us (to the first text). A stream that
  // fails after output arrived sets call.partial_output and partial_text, and
  // partial_usage when the provider had reported usage; its error is then never
  // retryable. A stream that ends early, by a closed connection, a timeout or a clean
  // end before the provider's end marker, never succeeds.
  Result<ChatResponse> call_streamed(http::Request request,
                                     const StreamDecoderFactory& make_decoder,
                                     const WholeDecoder& decode_error, ChatCall& call) const;

  // call_whole and call_streamed without blocking: the request goes to loop.submit()
  // (at once, from any thread, the loop's included), on_text runs on the loop thread and
  // `done` receives what the blocking call would have returned, once, on the loop
  // thread and never inside these functions; `call` must live until then. A loop shut
  // down first gives `cancelled`. Callbacks must not throw: an exception from on_text
  // fails the call with kind `internal`.
  void start_whole(http::EventLoop& loop, http::Request request, WholeDecoder decode,
                   ChatCall& call, ChatDone done) const;
  void start_streamed(http::EventLoop& loop, http::Request request,
                      const StreamDecoderFactory& make_decoder, WholeDecoder decode_error,
                      ChatCall& call, ChatDone done) const;

  // `error` as it may leave the adapter: source = the provider, a hint naming the key's
  // variable on auth errors, and no copy of the key anywhere in it.
  Error polished(Error error) const;

 private:
  class Streamed;  // one streamed exchange's state, shared by both paths

  // The transport's (or loop's) answer with every copy of the key taken out.
  Result<http::Response> redacted(Result<http::Response> answer) const;
  Result<ChatResponse> finish_whole(Result<http::Response> answer, const WholeDecoder& decode,
                                    ChatCall& call) const;

  const std::string provider_;
  const base::SecureBuffer& api_key_;
  const std::string key_env_;
  const std::shared_ptr<http::Transport> transport_;
};

}  // namespace perdiem::providers
