// The chunker: paragraph and sentence boundaries, the size bound, UTF-8 safety.
#include <doctest/doctest.h>

#include <random>
#include <sstream>

#include "runtime/memory/chunker.hpp"

using namespace perdiem::memory;

namespace {

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

}  // namespace

TEST_CASE("empty and blank text give no chunks") {
  CHECK(chunk_text("").empty());
  CHECK(chunk_text(" \n\n\t \n").empty());
}

TEST_CASE("short paragraphs share a chunk, trimmed, joined by a blank line") {
  auto chunks = chunk_text("  First paragraph.\n\n  \nSecond one.  \n", {100});
  REQUIRE(chunks.size() == 1);
  CHECK(chunks[0] == "First paragraph.\n\nSecond one.");
}

TEST_CASE("a paragraph that does not fit starts a new chunk") {
  std::string a(60, 'a'), b(60, 'b');
  auto chunks = chunk_text(a + "\n\n" + b, {100});
  REQUIRE(chunks.size() == 2);
  CHECK(chunks[0] == a);
  CHECK(chunks[1] == b);
}

TEST_CASE("a long paragraph is cut at sentence ends") {
  std::string para;
  for (int i = 0; i < 20; ++i) para += "Sentence number " + std::to_string(i) + " is here. ";
  auto chunks = chunk_text(para, {120});
  REQUIRE(chunks.size() > 1);
  for (const auto& c : chunks) {
    CHECK(c.size() <= 120);
    CHECK(c.back() == '.');  // every cut fell after a sentence
    CHECK(c.rfind("Sentence", 0) == 0);
  }
}

TEST_CASE("the bound holds and no word is lost, whatever the text") {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::string text;
    int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      int len = 1 + static_cast<int>(rng() % 12);
      text += std::string(static_cast<std::size_t>(len), static_cast<char>('a' + rng() % 26));
      int sep = static_cast<int>(rng() % 10);
      text += sep == 0 ? ". " : sep == 1 ? "\n\n" : sep == 2 ? "\n" : " ";
    }
    std::size_t max = 16 + rng() % 300;
    auto chunks = chunk_text(text, {max});
    std::string joined;
    for (const auto& c : chunks) {
      CHECK(c.size() <= max);
      CHECK(!c.empty());
      joined += c + " ";
    }
    CHECK(words_of(joined) == words_of(text));
  }
}

TEST_CASE("a word longer than the bound is cut between UTF-8 characters") {
  std::string word;
  for (int i = 0; i < 50; ++i) word += "\xC3\xA9\xE2\x82\xAC";  // é€, 2 + 3 bytes
  auto chunks = chunk_text(word, {16});
  REQUIRE(chunks.size() > 1);
  std::string joined;
  for (const auto& c : chunks) {
    CHECK(c.size() <= 16);
    CHECK(valid_utf8(c));
    joined += c;
  }
  CHECK(joined == word);
}
