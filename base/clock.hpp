// Time behind an interface, so tests can stop it, move it, and cross midnight UTC.
#pragma once

#include <cstdint>

namespace perdiem::base {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time: milliseconds since the Unix epoch, UTC.
  virtual std::int64_t now_unix_ms() const = 0;
  // Monotonic time for measuring durations, in microseconds from an arbitrary origin.
  virtual std::int64_t monotonic_us() const = 0;
};

// The process's real clocks. Thread-safe; lives for the whole program.
Clock& system_clock();

// A clock that moves only when told to. Not thread-safe to advance while read.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t unix_ms = 0) : unix_ms_(unix_ms) {}
  std::int64_t now_unix_ms() const override { return unix_ms_; }
  std::int64_t monotonic_us() const override { return unix_ms_ * 1000; }
  void set_unix_ms(std::int64_t unix_ms) { unix_ms_ = unix_ms; }
  void advance_ms(std::int64_t ms) { unix_ms_ += ms; }

 private:
  std::int64_t unix_ms_;
};

}  // namespace perdiem::base
