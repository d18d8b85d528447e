// Randomness sources: the lazily seeded one costs nothing until drawn from, then gives a
// sequence of its own.
#include <doctest/doctest.h>

#include <set>

#include "base/random.hpp"

using namespace perdiem::base;

TEST_CASE("a lazily seeded source is seeded at its first draw, each with its own seed") {
  LazilySeededRandom first, second;
  CHECK_FALSE(first.seeded_yet());
  const std::uint64_t a = first.next_u64();
  CHECK(first.seeded_yet());
  CHECK_FALSE(second.seeded_yet());
  std::set<std::uint64_t> drawn{a};
  for (int i = 0; i < 99; ++i) drawn.insert(first.next_u64());
  CHECK(drawn.size() == 100);  // a sequence, not one value repeated
  CHECK(second.next_u64() != a);  // seeded from the CSPRNG, not a fixed seed
  for (int i = 0; i < 1000; ++i) CHECK(second.uniform(7) < 7);
}

TEST_CASE("a seeded source is reproducible") {
  SeededRandom one(42), two(42);
  for (int i = 0; i < 10; ++i) CHECK(one.next_u64() == two.next_u64());
}
