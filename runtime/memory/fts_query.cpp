#include "runtime/memory/fts_query.hpp"

namespace perdiem::memory {
namespace {

bool is_word_byte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c >= 0x80;
}

}  // namespace

std::vector<std::string> fts_terms(std::string_view user_text) {
  std::vector<std::string> terms;
  std::size_t i = 0;
  while (i < user_text.size() && terms.size() < kMaxQueryTerms) {
    while (i < user_text.size() && !is_word_byte(static_cast<unsigned char>(user_text[i]))) ++i;
    std::size_t start = i;
    while (i < user_text.size() && is_word_byte(static_cast<unsigned char>(user_text[i]))) ++i;
    if (i == start) continue;
    std::string term(user_text.substr(start, i - start));
    bool seen = false;
    for (const auto& t : terms) seen = seen || t == term;
    if (!seen) terms.push_back(std::move(term));
  }
  return terms;
}

std::string fts_expression(const std::vector<std::string>& terms, std::string_view op) {
  std::string out;
  for (const auto& term : terms) {
    if (!out.empty()) out += op;
    // A quoted string is always a literal; a term holds no '"' that would need doubling.
    out += '"';
    out += term;
    out += '"';
  }
  return out;
}

std::string fts_match_expression(std::string_view user_text) {
  return fts_expression(fts_terms(user_text), " OR ");
}

}  // namespace perdiem::memory
