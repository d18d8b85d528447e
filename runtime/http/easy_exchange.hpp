// One HTTP exchange on a libcurl easy handle: the option set, the callbacks that stream
// the body and enforce the size limit and the first-byte and idle timeouts, and the
// mapping of how it ended to a Response or an Error. Shared by the blocking transport
// (curl_transport.cpp, curl_easy_perform) and the event loop (event_loop.cpp, a curl
// multi handle), so both behave alike byte for byte. Internal to runtime/http.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <exception>

#include "runtime/http/transport.hpp"

namespace perdiem::http {

// Why a transfer was stopped from one of our callbacks rather than by libcurl.
enum class Stop { none, too_large, first_byte_timeout, idle_timeout, refused, abandoned };

// The state of one transfer, pointed to by its handle's callbacks. Must stay at one
// address while the handle runs. `request` must outlive it.
struct Exchange {
  using Clock = std::chrono::steady_clock;

  const Request* request = nullptr;
  CURL* handle = nullptr;
  Response response;
  std::size_t received = 0;
  bool head_delivered = false;
  bool got_body = false;
  Clock::time_point started = Clock::now();
  Clock::time_point last_byte{};
  Stop stop = Stop::none;
  // An exception from a callback must not unwind through libcurl's C frames: it is
  // caught, the transfer stopped, and the owner rethrows or delivers it once libcurl
  // has returned.
  std::exception_ptr thrown;

  // Hands the final status and headers to on_head, once. May throw (on_head's own
  // exception) when called outside libcurl.
  bool deliver_head();
};

// Request headers for one transfer, the credential line among them; every line is
// wiped before it is freed. Must outlive the transfer.
struct HeaderList {
  curl_slist* list = nullptr;
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList();
};

// Runs curl_global_init once per process.
void ensure_curl_initialized();

// Sets every option of `exchange.request` on `exchange.handle` (a fresh or reset easy
// handle): URL, method, body, headers with the credential built in locked memory,
// callbacks, timeouts, HTTP/2 over TLS, connection reuse, the process-wide DNS and TLS
// session cache. `request.bearer_token` is read here and not kept.
void configure_exchange(Exchange& exchange, HeaderList& headers);

// The Error for a transfer libcurl ended with `code` (or that our callbacks stopped):
// timeout, transport, bad_response or cancelled, naming the URL without credentials.
Error exchange_failure(const Exchange& exchange, CURLcode code);

// The outcome once libcurl finished the transfer with `code`: the Response, or the
// Error Transport::send() documents. Delivers the head of an empty body to on_head,
// which may throw; does not look at exchange.thrown (the caller does, first).
Result<Response> finish_exchange(Exchange& exchange, CURLcode code);

}  // namespace perdiem::http
