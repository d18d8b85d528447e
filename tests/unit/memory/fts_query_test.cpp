// Search text is sanitised into an FTS5 expression that cannot fail to parse.
#include <doctest/doctest.h>

#include "memory_fixture.hpp"
#include "runtime/memory/fts_query.hpp"

using namespace perdiem::memory;
using namespace perdiem::memory::testing;

TEST_CASE("operators and quotes become plain quoted words joined by OR") {
  CHECK(fts_match_expression("NOT \"C++\" (foo* OR bar:baz) -x ^y") ==
        "\"NOT\" OR \"C\" OR \"foo\" OR \"OR\" OR \"bar\" OR \"baz\" OR \"x\" OR \"y\"");
  CHECK(fts_match_expression("caf\xC3\xA9 na\xC3\xAFve") == "\"caf\xC3\xA9\" OR \"na\xC3\xAFve\"");
  CHECK(fts_match_expression("\"\"()*:^-+ ").empty());
}

TEST_CASE("the number of terms is bounded") {
  std::string many;
  for (int i = 0; i < 100; ++i) many += "w" + std::to_string(i) + " ";
  std::string expr = fts_match_expression(many);
  std::size_t ors = 0;
  for (std::size_t at = expr.find(" OR "); at != std::string::npos; at = expr.find(" OR ", at + 1))
    ++ors;
  CHECK(ors + 1 == kMaxQueryTerms);
}

TEST_CASE("hostile queries search without a syntax error") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  REQUIRE(store->remember("The quick brown fox jumps over the lazy dog.", {}).ok());
  const char* hostile[] = {"\"",
                           "NOT",
                           "fox AND",
                           "(((",
                           "fox*",
                           "NEAR(a b",
                           "col:fox",
                           "\"unterminated",
                           "a OR OR b",
                           "^fox",
                           "-fox",
                           "fox\" OR \"",
                           "",
                           "   ",
                           "'; DROP TABLE chunks; --",
                           "\xE2\x80\x9C"
                           "fox"
                           "\xE2\x80\x9D \xE2\x80\x94 \xE2\x84\xA2 \xF0\x9F\x98\x80",
                           "\xFF\xFE not utf-8"};
  for (const char* q : hostile) {
    auto hits = store->recall(q, {});
    REQUIRE_MESSAGE(hits.ok(), q, ": ", (hits.ok() ? "" : hits.error().describe()));
  }
  auto fox = store->recall("fox*\"", {});
  REQUIRE(fox.ok());
  REQUIRE(fox->size() == 1);
  CHECK(fox->front().text.find("fox") != std::string::npos);
  // Typographic punctuation glued to a word (one "word" to our splitter, a separator to
  // the tokenizer) still finds it; a term that is only symbols is ignored.
  auto quoted = store->recall(
      "\xE2\x80\x9C"
      "fox"
      "\xE2\x80\x9D \xF0\x9F\x98\x80",
      {});
  REQUIRE(quoted.ok());
  CHECK(quoted->size() == 1);
}
