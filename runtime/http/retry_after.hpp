// How long a server asked us to wait before trying again (429, 503, Anthropic's 529).
#pragma once

#include <chrono>
#include <optional>

#include "runtime/http/transport.hpp"

namespace perdiem::http {

// The longest wait a server may ask for; a larger value is taken as this (a broken
// header must not park a run for a year).
inline constexpr std::chrono::milliseconds kMaxRetryAfter{24 * 60 * 60 * 1000};

// The delay the response's headers ask for: "retry-after-ms" (milliseconds, as OpenAI
// sends) when it holds a non-negative number, else "retry-after" as delay-seconds or
// as an HTTP-date, counted from `now` (a date already past means no wait). Capped at
// kMaxRetryAfter. nullopt when neither header is present and valid.
std::optional<std::chrono::milliseconds> retry_after(
    const Response& response,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

}  // namespace perdiem::http
