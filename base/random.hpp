// Randomness behind an interface: deterministic sources for simulation and tests,
// libsodium's CSPRNG for anything secret.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace perdiem::base {

class Random {
 public:
  virtual ~Random() = default;
  virtual std::uint64_t next_u64() = 0;
  virtual void fill(std::span<std::uint8_t> out) = 0;

  // Uniform in [0, bound); bound must be > 0.
  std::uint64_t uniform(std::uint64_t bound);
};

// A seeded, reproducible sequence (SplitMix64). Never use it for keys or nonces.
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() override;
  void fill(std::span<std::uint8_t> out) override;

 private:
  std::uint64_t state_;
};

// This thread's own SeededRandom, seeded from secure_random() on the thread's first use:
// for jitter that needs no secrecy (a model call's backoff), without a system call on
// every model call. Use it only on the calling thread.
Random& thread_jitter();

// libsodium's randombytes. Thread-safe.
Random& secure_random();

}  // namespace perdiem::base
