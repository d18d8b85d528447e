// UTF-8 helpers for text that goes back to the model: tool output may be any bytes, but
// JSON (and so every provider request) needs valid UTF-8.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace perdiem::tools {

// `bytes` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

// The largest n <= max_bytes such that text[0, n) does not end inside a multi-byte
// character (text assumed valid UTF-8).
std::size_t utf8_prefix_length(std::string_view text, std::size_t max_bytes);

}  // namespace perdiem::tools
