#include "runtime/memory/fusion.hpp"

#include <algorithm>
#include <unordered_map>

namespace perdiem::memory {

std::vector<std::pair<std::int64_t, double>> reciprocal_rank_fusion(
    const std::vector<std::vector<std::int64_t>>& ranked_lists, double k) {
  std::unordered_map<std::int64_t, double> scores;
  for (const auto& list : ranked_lists) {
    for (std::size_t i = 0; i < list.size(); ++i)
      scores[list[i]] += 1.0 / (k + static_cast<double>(i + 1));
  }
  std::vector<std::pair<std::int64_t, double>> out(scores.begin(), scores.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return out;
}

}  // namespace perdiem::memory
