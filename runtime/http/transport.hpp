// HTTP behind a small interface, so adapters are tested against loopback servers and
// fault-injecting fakes alike.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"

namespace perdiem::http {

struct Request {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as "Authorization: Bearer <key>" and never logged or echoed in errors.
  const base::SecureBuffer* bearer_token = nullptr;
  std::string body;
  std::chrono::milliseconds timeout{120'000};
  std::chrono::milliseconds connect_timeout{10'000};
  std::size_t max_response_bytes = 16u << 20;  // a larger body fails as bad_response
};

struct Response {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;

  // The first header named `name` (lowercase), or "".
  std::string header(std::string_view name) const;
};

// Thread-safety: implementations allow concurrent send() calls.
class Transport {
 public:
  virtual ~Transport() = default;
  // A Response for any HTTP status; an Error (kind transport or timeout) only when no
  // response arrived. Error messages name the URL, never the credentials.
  virtual Result<Response> send(const Request& request) = 0;
};

}  // namespace perdiem::http
