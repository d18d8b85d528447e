// Reciprocal rank fusion (Cormack et al., 2009): merges ranked lists without comparing
// their incomparable scores (bm25 vs cosine). Each id scores sum(1 / (k + rank)) over the
// lists it appears in, rank counted from 1. Pure.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace perdiem::memory {

inline constexpr double kRrfK = 60.0;

// (id, fused score), best first; ties broken by smaller id so results are deterministic.
std::vector<std::pair<std::int64_t, double>> reciprocal_rank_fusion(
    const std::vector<std::vector<std::int64_t>>& ranked_lists, double k = kRrfK);

}  // namespace perdiem::memory
