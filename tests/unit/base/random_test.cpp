// Randomness sources: a thread's jitter source is its own, seeded once from the CSPRNG.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "base/random.hpp"

using namespace perdiem::base;

TEST_CASE("each thread has its own jitter source, seeded from the CSPRNG") {
  Random& mine = thread_jitter();
  CHECK(&thread_jitter() == &mine);  // the same source for the thread's life
  std::set<std::uint64_t> drawn;
  for (int i = 0; i < 100; ++i) drawn.insert(mine.next_u64());
  CHECK(drawn.size() == 100);  // a sequence, not one value repeated
  Random* theirs = nullptr;
  std::uint64_t their_first = 0;
  std::thread other([&] {
    theirs = &thread_jitter();
    their_first = theirs->next_u64();
  });
  other.join();
  CHECK(theirs != &mine);
  CHECK(drawn.count(their_first) == 0);  // seeded on its own, not from a fixed seed
  for (int i = 0; i < 1000; ++i) CHECK(mine.uniform(7) < 7);
}

TEST_CASE("a seeded source is reproducible") {
  SeededRandom one(42), two(42);
  for (int i = 0; i < 10; ++i) CHECK(one.next_u64() == two.next_u64());
}
