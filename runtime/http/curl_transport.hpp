// The libcurl implementation of http::Transport.
#pragma once

#include <memory>

#include "runtime/http/transport.hpp"

namespace perdiem::http {

// One easy handle per request for now; the scheduler moves this onto a curl multi
// event loop. Thread-safe.
std::unique_ptr<Transport> make_curl_transport();

}  // namespace perdiem::http
