// The libcurl implementation of http::Transport.
#pragma once

#include <memory>

#include "runtime/http/transport.hpp"

namespace perdiem::http {

// Blocking: each thread keeps one easy handle (and its connections) between requests.
// event_loop.hpp runs the same exchanges on one curl multi handle instead, and
// make_loop_transport() puts that behind this interface. Thread-safe.
std::unique_ptr<Transport> make_curl_transport();

}  // namespace perdiem::http
