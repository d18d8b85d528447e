#include "runtime/http/curl_transport.hpp"

#include <curl/curl.h>

#include <exception>

#include "runtime/http/easy_exchange.hpp"

namespace perdiem::http {

std::string Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

namespace {

// Each thread keeps one easy handle between requests: curl_easy_reset() clears its
// options but keeps its live connections, so consecutive calls to a provider reuse the
// TCP and TLS connection (and an HTTP/2 one). A send() from inside a callback finds the
// thread's handle busy and uses a fresh one.
struct ThreadHandle {
  CURL* handle = nullptr;
  bool busy = false;
  ~ThreadHandle() {
    if (handle != nullptr) curl_easy_cleanup(handle);
  }
};

thread_local ThreadHandle thread_handle;

class HandleLease {
 public:
  HandleLease() {
    if (thread_handle.busy) {
      handle_ = curl_easy_init();
      owned_ = true;
      return;
    }
    if (thread_handle.handle == nullptr) {
      thread_handle.handle = curl_easy_init();
    } else {
      curl_easy_reset(thread_handle.handle);
    }
    handle_ = thread_handle.handle;
    thread_handle.busy = handle_ != nullptr;
  }
  ~HandleLease() {
    if (owned_) {
      curl_easy_cleanup(handle_);
    } else if (handle_ != nullptr) {
      thread_handle.busy = false;
    }
  }
  HandleLease(const HandleLease&) = delete;
  HandleLease& operator=(const HandleLease&) = delete;

  CURL* get() const { return handle_; }

 private:
  CURL* handle_ = nullptr;
  bool owned_ = false;
};

class CurlTransport final : public Transport {
 public:
  CurlTransport() { ensure_curl_initialized(); }

  Result<Response> send(const Request& request) override {
    HandleLease lease;
    CURL* h = lease.get();
    if (h == nullptr) {
      return make_error(ErrorKind::internal, "libcurl could not create a handle");
    }
    Exchange exchange;
    exchange.request = &request;
    exchange.handle = h;
    HeaderList headers;
    configure_exchange(exchange, headers);
    const CURLcode code = curl_easy_perform(h);
    if (exchange.thrown) std::rethrow_exception(exchange.thrown);
    return finish_exchange(exchange, code);
  }
};

}  // namespace

std::unique_ptr<Transport> make_curl_transport() {
  return std::make_unique<CurlTransport>();
}

}  // namespace perdiem::http
