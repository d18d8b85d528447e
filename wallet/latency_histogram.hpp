// A fixed-size histogram of durations in microseconds, for the writer's statistics: 8
// buckets per power of two (values within 12.5%), so it never allocates and adding to it
// costs a few instructions on the commit path.
// Thread-safety: none; the owner locks.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace perdiem::wallet {

class LatencyHistogram {
 public:
  void add(std::int64_t us) {
    ++counts_[index(us < 0 ? 0 : static_cast<std::uint64_t>(us))];
    ++total_;
    if (us > max_) max_ = us;
  }
  // Counts since `earlier` (a snapshot of this histogram), for measuring one interval.
  LatencyHistogram since(const LatencyHistogram& earlier) const {
    LatencyHistogram out = *this;
    for (std::size_t i = 0; i < kBuckets; ++i) out.counts_[i] -= earlier.counts_[i];
    out.total_ -= earlier.total_;
    return out;  // max_ stays the all-time maximum: a histogram cannot forget it
  }
  std::uint64_t count() const { return total_; }
  std::int64_t max() const { return max_; }
  // The upper bound of the bucket holding quantile `q` (0..1); 0 when empty.
  std::int64_t percentile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_ - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return upper(i);
    }
    return max_;
  }

 private:
  static constexpr std::size_t kSub = 8;  // buckets per power of two
  static constexpr std::size_t kBuckets = 16 + 40 * kSub;
  static std::size_t index(std::uint64_t v) {
    if (v < 16) return static_cast<std::size_t>(v);
    const int e = std::bit_width(v) - 1;  // 4..63
    const std::size_t sub = static_cast<std::size_t>(v >> (e - 3)) & (kSub - 1);
    const std::size_t i = 16 + static_cast<std::size_t>(e - 4) * kSub + sub;
    return i < kBuckets ? i : kBuckets - 1;
  }
  static std::int64_t upper(std::size_t i) {
    if (i < 16) return static_cast<std::int64_t>(i);
    const std::size_t e = (i - 16) / kSub + 4;
    const std::size_t sub = (i - 16) % kSub;
    return static_cast<std::int64_t>(((8 + sub + 1) << (e - 3)) - 1);
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t total_ = 0;
  std::int64_t max_ = 0;
};

}  // namespace perdiem::wallet
