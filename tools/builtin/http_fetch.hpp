// http.fetch: GET or POST to hosts on an allow-list, with size and time caps. Built-in.
//
// Redirects are never followed by libcurl: each Location is read, checked against the
// allow-list like the first URL, and only then fetched (at most max_redirects hops), so
// an allowed host cannot bounce the tool to one that is not. The size cap counts
// decoded bytes, so a small compressed body cannot expand past it.
//
// Not covered: the allow-list names hosts, not addresses; a name on the list that
// resolves to a private address is fetched (DNS is the operator's to trust).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tools/tool.hpp"

namespace perdiem::tools {

struct HttpFetchOptions {
  // Hosts the tool may reach, any port: "example.com", "127.0.0.1", "[::1]", or
  // "*.example.com" (subdomains only, not example.com itself). Empty: none.
  std::vector<std::string> allowed_hosts;
  std::size_t max_response_bytes = 1 << 20;  // a larger body fails the call
  std::size_t max_request_body_bytes = 256 * 1024;
  std::chrono::milliseconds timeout{15'000};  // for the whole call, redirects included
  int max_redirects = 5;
  std::string user_agent = "perdiem-http.fetch";
};

// True when `host` (as in a URL: lowercase, IPv6 in brackets) is on `allowed`.
bool host_allowed(const std::vector<std::string>& allowed, std::string_view host);

// {url, method?: "GET"|"POST", body?: string, content_type?: string,
//  headers?: {name: value}}
//   -> {status, url (after redirects), content_type, body, redirects}
// A non-2xx status is a result; refusals, caps and transport failures are errors.
Tool make_http_fetch_tool(HttpFetchOptions options);

}  // namespace perdiem::tools
