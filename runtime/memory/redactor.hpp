// Redaction at the source: every text the memory store writes (trace requests,
// responses, errors, run arguments and results, messages, facts, remembered text) passes
// through a Redactor first, so a secret never reaches memory.db, its WAL, or an export.
//
// Each secret is matched verbatim and in its JSON-escaped form (a key containing `"` or
// `\` appears escaped inside a serialized request). Matches become "[redacted]".
// Secrets are copied into locked, wiped memory (base::SecureBuffer).
// Thread-safety: none; MemoryStore guards its Redactor with a lock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/secure_buffer.hpp"
#include "perdiem/error.hpp"

namespace perdiem::memory {

inline constexpr std::string_view kRedacted = "[redacted]";

class Redactor {
 public:
  // Secrets shorter than this are refused: redacting "a" would shred every text.
  static constexpr std::size_t kMinSecretBytes = 4;

  // invalid_argument if `secret` is shorter than kMinSecretBytes. Adding one twice is a
  // no-op.
  [[nodiscard]] Status add(std::string_view secret);
  bool empty() const { return secrets_.empty(); }
  // `text` with every occurrence of every secret replaced; longest secrets first, so a
  // secret containing another is removed whole.
  std::string apply(std::string_view text) const;
  void apply_in_place(std::string& text) const;

 private:
  std::vector<base::SecureBuffer> secrets_;  // verbatim and JSON-escaped forms
};

}  // namespace perdiem::memory
