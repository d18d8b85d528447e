// HTTP behind a small interface, so adapters are tested against loopback servers and
// fault-injecting fakes alike.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"

namespace perdiem::http {

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;  // empty when the request streamed it to on_body_chunk

  // The first header named `name` (lowercase), or "".
  std::string header(std::string_view name) const;
};

// Receives the final status and headers (body empty) once, before any body byte reaches
// on_body_chunk; also when the body is empty. Return false to stop the transfer.
using HeadFn = std::function<bool(const Response& head)>;
// Receives the body piece by piece as it arrives. Return false to stop the transfer.
using BodyChunkFn = std::function<bool(std::string_view chunk)>;

struct Request {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as "Authorization: Bearer <key>", or as "<key_header>: <key>" when key_header
  // is set (Anthropic's "x-api-key"); built in locked memory, never logged or echoed in
  // errors.
  const base::SecureBuffer* bearer_token = nullptr;
  std::string key_header{};
  std::string body;
  std::chrono::milliseconds timeout{120'000};  // the whole exchange, body included
  std::chrono::milliseconds connect_timeout{10'000};
  // For streams. Zero means no limit besides `timeout`. The first body byte must arrive
  // within first_byte_timeout of the start, and after it no gap between body bytes may
  // exceed idle_timeout. Both are checked at least once a second, so they fire up to a
  // second late.
  std::chrono::milliseconds first_byte_timeout{0};
  std::chrono::milliseconds idle_timeout{0};
  // Set: once it reads true, the exchange is abandoned with `cancelled`, within about a
  // second (checked as often as the timeouts above). A run's cancel flag, so Ctrl-C does
  // not wait for a slow provider. Must outlive the exchange.
  const std::atomic<bool>* abandon = nullptr;
  // Keep the connection open for the next request on this thread. Unset: yes, except
  // to a loopback server, where a connection costs nothing and an idle one would hold
  // one of a small local server's workers (llama-server, the mock provider).
  std::optional<bool> reuse_connection{};
  // A larger body fails as bad_response, streamed or not (counted across chunks).
  std::size_t max_response_bytes = 16u << 20;
  HeadFn on_head{};
  // Set: the body goes here as it arrives, not into Response::body. Both callbacks run
  // inside send(), on its thread; a send() made from a callback works (on a connection
  // of its own). An exception a callback throws (a Lua error, say) stops the transfer
  // and leaves send() once libcurl has returned.
  BodyChunkFn on_body_chunk{};
};

// Thread-safety: implementations allow concurrent send() calls.
class Transport {
 public:
  virtual ~Transport() = default;
  // A Response for any HTTP status; an Error only when no complete response arrived:
  //  - timeout (retryable): `timeout`, first_byte_timeout or idle_timeout passed;
  //  - transport (retryable): no connection, or it broke, including a body cut off
  //    before its end (a stream that stops half-way);
  //  - bad_response: the body outgrew max_response_bytes;
  //  - cancelled: on_head or on_body_chunk returned false, or `abandon` read true.
  // Error messages name the URL (without credentials), never the key.
  virtual Result<Response> send(const Request& request) = 0;
};

}  // namespace perdiem::http
