// Small UTF-8-aware text helpers shared by the codec and the sim provider. Counting and
// cutting by code point keeps excerpts readable and never splits a character in two.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace perdiem::providers::text {

inline bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

// Code points in `s` (invalid sequences count one per lead byte).
inline std::size_t length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += is_continuation(c) ? 0 : 1;
  return n;
}

// The longest prefix of `s` holding at most `max_chars` code points.
inline std::string_view prefix(std::string_view s, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_continuation(static_cast<unsigned char>(s[i]))) continue;
    if (chars == max_chars) return s.substr(0, i);
    ++chars;
  }
  return s;
}

// `s` on one line (control characters become spaces), at most `max_chars` code points,
// with "..." marking a cut. For quoting untrusted text inside an error message.
inline std::string excerpt(std::string_view s, std::size_t max_chars) {
  const std::string_view head = prefix(s, max_chars);
  std::string out(head);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  if (head.size() < s.size()) out += "...";
  return out;
}

// Replaces every occurrence of `secret` in `s` with "[redacted]". No-op for an empty
// secret.
inline void redact(std::string& s, std::string_view secret) {
  if (secret.empty()) return;
  static constexpr std::string_view mark = "[redacted]";
  for (auto at = s.find(secret); at != std::string::npos; at = s.find(secret, at + mark.size())) {
    s.replace(at, secret.size(), mark);
  }
}

}  // namespace perdiem::providers::text
