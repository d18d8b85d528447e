// Turns a user's search text into an FTS5 MATCH expression that cannot be a syntax
// error. Pure.
//
// FTS5 gives meaning to quotes, parentheses, `*`, `^`, `:`, `-`, `+` and the bare words
// AND/OR/NOT/NEAR, so raw user text ("what's C++?", `NOT "`) fails or means something
// else. We keep only the words (runs of letters, digits, `_` and any non-ASCII byte, the
// same characters the unicode61 tokenizer keeps), quote each as a string, and join them
// with OR: bm25 then ranks chunks matching more (and rarer) words higher, while a chunk
// matching only some words is still found.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace perdiem::memory {

// At most this many words are kept (the rest are ignored): a pasted page as a query
// would otherwise make an expression FTS5 spends seconds on.
inline constexpr std::size_t kMaxQueryTerms = 32;

// The words of `user_text` (at most kMaxQueryTerms, duplicates removed, in order).
std::vector<std::string> fts_terms(std::string_view user_text);
// The terms, each quoted, joined by `op` (" OR " or " AND "); "" for no terms.
std::string fts_expression(const std::vector<std::string>& terms, std::string_view op);
// fts_expression(fts_terms(user_text), " OR "): "" when the text has no words (the search
// then finds nothing).
std::string fts_match_expression(std::string_view user_text);

}  // namespace perdiem::memory
