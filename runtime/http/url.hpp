// URL facts the runtime needs, from libcurl's URL parser (never by string prefix).
#pragma once

#include <string>

namespace perdiem::http {

// The URL as errors may show it: without user:password@, query and fragment, any of
// which can carry a credential. "the provider URL" when it does not parse.
std::string display_url(const std::string& url);

// True when the URL's host is this machine: "localhost", an address in 127.0.0.0/8, or
// ::1. "https://localhost.example.com" and "http://127.example.com" are not.
bool is_loopback_url(const std::string& url);

}  // namespace perdiem::http
