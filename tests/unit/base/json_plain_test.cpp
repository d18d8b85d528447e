// The eight-bytes-at-a-time scan under every JSON string escaper: checked against the
// byte-by-byte rule for each special byte at every position of a word and its tail.
#include <doctest/doctest.h>

#include <string>

#include "base/json_plain.hpp"

using perdiem::base::append_json_escaped;
using perdiem::base::ControlEscapes;
using perdiem::base::json_plain_prefix;

namespace {

// The rule, one byte at a time.
std::size_t slow_prefix(std::string_view text, bool ascii_only) {
  std::size_t i = 0;
  for (; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == '"' || c == '\\' || (ascii_only && c >= 0x80)) break;
  }
  return i;
}

}  // namespace

TEST_CASE("the scan stops at the first byte a JSON string must escape, wherever it is") {
  const unsigned char specials[] = {'"', '\\', 0x00, 0x01, 0x1f, 0x80, 0xc3, 0xff};
  for (const bool ascii_only : {true, false}) {
    for (std::size_t size = 0; size <= 27; ++size) {
      const std::string plain(size, 'a');
      CHECK(json_plain_prefix(plain, ascii_only) == size);
      for (std::size_t at = 0; at < size; ++at) {
        for (const unsigned char special : specials) {
          std::string text = plain;
          text[at] = static_cast<char>(special);
          const std::size_t expected = slow_prefix(text, ascii_only);
          INFO("size " << size << ", byte " << int(special) << " at " << at);
          CHECK(json_plain_prefix(text, ascii_only) == expected);
          // Bytes a multi-byte UTF-8 character is made of stop only the ASCII scan.
          if (special >= 0x80) CHECK(expected == (ascii_only ? at : size));
        }
      }
    }
  }
}

TEST_CASE("bytes next to the specials are plain: no borrow is taken for a special byte") {
  // 0x20 (space), 0x21 and 0x23 neighbour 0x1f and '"'; 0x5b and 0x5d neighbour '\\';
  // 0x7f is the last ASCII byte.
  const std::string neighbours = " !#[]\x7f ~ !#[]\x7f~~~ !#";
  CHECK(json_plain_prefix(neighbours, true) == neighbours.size());
  CHECK(json_plain_prefix(neighbours + "\x1f" + neighbours, true) == neighbours.size());
  // A special byte after many plain words, then more text.
  const std::string long_text = std::string(1000, 'x') + "\"" + std::string(100, 'y');
  CHECK(json_plain_prefix(long_text, false) == 1000);
}

TEST_CASE("escaping: the two styles differ only in \\b and \\f; UTF-8 stops only the ASCII scan") {
  const std::string text = std::string("q\"b\\n\nr\rt\tB\bF\fx\x01") + std::string(1, '\0') + "\x7f";
  std::string dump = "<";
  REQUIRE(append_json_escaped(dump, text, false, ControlEscapes::dump));
  CHECK(dump == "<q\\\"b\\\\n\\nr\\rt\\tB\\bF\\fx\\u0001\\u0000\x7f");
  std::string ledger;
  REQUIRE(append_json_escaped(ledger, text, false, ControlEscapes::ledger));
  CHECK(ledger == "q\\\"b\\\\n\\nr\\rt\\tB\\u0008F\\u000cx\\u0001\\u0000\x7f");
  std::string utf8;
  CHECK(append_json_escaped(utf8, "caf\xc3\xa9 \"", false, ControlEscapes::dump));
  CHECK(utf8 == "caf\xc3\xa9 \\\"");
  std::string ascii;
  CHECK_FALSE(append_json_escaped(ascii, "ab\"c\xc3\xa9", true, ControlEscapes::dump));
  CHECK(ascii == "ab\\\"c");  // what came before the first byte from 0x80 up
}
