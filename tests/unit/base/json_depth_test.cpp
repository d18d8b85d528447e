// The depth pre-scan every parser of untrusted JSON runs first.
#include <doctest/doctest.h>

#include <string>

#include "base/json_depth.hpp"

using perdiem::base::json_nests_deeper_than;

TEST_CASE("nesting is counted in arrays and objects alike") {
  CHECK_FALSE(json_nests_deeper_than(R"({"a": [1, {"b": 2}]})", 3));
  CHECK(json_nests_deeper_than(R"({"a": [1, {"b": 2}]})", 2));
  CHECK_FALSE(json_nests_deeper_than("42", 0));
  CHECK(json_nests_deeper_than("[]", 0));
}

TEST_CASE("brackets inside strings, escaped quotes included, do not count") {
  CHECK_FALSE(json_nests_deeper_than(R"(["[[[[", "\"[[[[", "\\"])", 1));
  CHECK(json_nests_deeper_than(R"(["\\", [[]]])", 2));
}

TEST_CASE("a hostile document is refused without recursion") {
  std::string bomb(1'000'000, '[');
  CHECK(json_nests_deeper_than(bomb, 200));
  CHECK_FALSE(json_nests_deeper_than(std::string(50, '[') + std::string(50, ']'), 50));
  // Stray closers never make the depth negative and hide a deep tail.
  CHECK(json_nests_deeper_than("]]]]]" + std::string(10, '['), 5));
}
