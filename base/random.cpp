#include "base/random.hpp"

#include <sodium.h>

#include <cstdlib>
#include <cstring>

namespace perdiem::base {

std::uint64_t Random::uniform(std::uint64_t bound) {
  // Rejection sampling keeps the distribution exactly uniform.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t x;
  do {
    x = next_u64();
  } while (x >= limit);
  return x % bound;
}

std::uint64_t SeededRandom::next_u64() {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Random& thread_jitter() {
  thread_local SeededRandom jitter(secure_random().next_u64());
  return jitter;
}

void SeededRandom::fill(std::span<std::uint8_t> out) {
  for (std::size_t i = 0; i < out.size(); i += 8) {
    const std::uint64_t word = next_u64();
    std::memcpy(out.data() + i, &word, std::min<std::size_t>(8, out.size() - i));
  }
}

namespace {

class SodiumRandom final : public Random {
 public:
  std::uint64_t next_u64() override {
    std::uint64_t x;
    randombytes_buf(&x, sizeof x);
    return x;
  }
  void fill(std::span<std::uint8_t> out) override { randombytes_buf(out.data(), out.size()); }
};

}  // namespace

Random& secure_random() {
  // sodium_init makes randombytes thread-safe; it is idempotent and thread-safe itself.
  static SodiumRandom random = [] {
    if (sodium_init() < 0) std::abort();  // no safe randomness: refuse to go on
    return SodiumRandom();
  }();
  return random;
}

}  // namespace perdiem::base
