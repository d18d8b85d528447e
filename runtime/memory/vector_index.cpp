#include "runtime/memory/vector_index.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <mutex>

namespace perdiem::memory {

static_assert(std::endian::native == std::endian::little,
              "embeddings are stored as little-endian float32");

std::vector<std::uint8_t> encode_vector(std::span<const float> v) {
  std::vector<std::uint8_t> out(v.size() * sizeof(float));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

Result<std::vector<float>> decode_vector(std::span<const std::uint8_t> blob, std::size_t dim) {
  if (blob.size() != dim * sizeof(float)) {
    return make_error(ErrorKind::storage,
                      "an embedding holds " + std::to_string(blob.size()) + " bytes; expected " +
                          std::to_string(dim) + " float32 values",
                      "memory.db");
  }
  std::vector<float> v(dim);
  if (dim) std::memcpy(v.data(), blob.data(), blob.size());
  return v;
}

bool normalize(std::span<float> v) {
  double sum = 0;
  for (float x : v) {
    if (!std::isfinite(x)) return false;
    sum += static_cast<double>(x) * x;
  }
  if (sum == 0) return true;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
  return true;
}

namespace {

// Eight independent sums let the compiler keep them in vector registers without
// reassociating (no -ffast-math needed).
float dot(const float* a, const float* b, std::size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (std::size_t j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

Status VectorIndex::refresh(sql::Db& reader) {
  auto deleted = reader.scalar("SELECT value FROM meta WHERE key = 'chunks_deleted'");
  if (!deleted) return deleted.error();
  auto newest = reader.scalar("SELECT coalesce(max(id), 0) FROM chunks");
  if (!newest) return newest.error();
  {
    std::shared_lock lock(mu_);
    if (*deleted == deletions_seen_ && *newest <= last_id_) return {};
  }
  std::unique_lock lock(mu_);
  if (*deleted != deletions_seen_) {
    ids_.clear();
    ns_of_.clear();
    ns_names_.clear();
    matrix_.clear();
    last_id_ = 0;
  }
  Status st = load_after(reader, last_id_);
  if (!st.ok()) return st;
  deletions_seen_ = *deleted;
  last_id_ = std::max(last_id_, *newest);
  return {};
}

Status VectorIndex::load_after(sql::Db& reader, std::int64_t after_id) {
  auto stmt = reader.cached(
      "SELECT c.id, c.ns, e.vec FROM chunks c JOIN embeddings e "
      "ON e.hash = c.hash AND e.model = ?1 AND e.dim = ?2 WHERE c.id > ?3 ORDER BY c.id");
  if (!stmt) return stmt.error();
  sql::Stmt& s = **stmt;
  sql::ResetGuard guard(s);
  s.bind(1, model_).bind(2, static_cast<std::int64_t>(dim_)).bind(3, after_id);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    auto blob = s.column_blob(2);
    if (blob.size() != dim_ * sizeof(float)) continue;  // a damaged row is not searchable
    std::string ns = s.column_text(1);
    auto found = std::find(ns_names_.begin(), ns_names_.end(), ns);
    if (found == ns_names_.end()) found = ns_names_.insert(ns_names_.end(), std::move(ns));
    ids_.push_back(s.column_int(0));
    ns_of_.push_back(static_cast<std::uint32_t>(found - ns_names_.begin()));
    std::size_t at = matrix_.size();
    matrix_.resize(at + dim_);
    std::memcpy(matrix_.data() + at, blob.data(), blob.size());
    normalize(std::span<float>(matrix_.data() + at, dim_));
    last_id_ = ids_.back();
  }
  return {};
}

std::vector<std::pair<std::int64_t, float>> VectorIndex::search(std::span<const float> query,
                                                                std::size_t k,
                                                                std::string_view ns) const {
  std::shared_lock lock(mu_);
  std::vector<std::pair<std::int64_t, float>> out;
  if (query.size() != dim_ || k == 0) return out;
  std::int64_t ns_id = -1;  // -1: any namespace
  if (!ns.empty()) {
    auto found = std::find(ns_names_.begin(), ns_names_.end(), ns);
    if (found == ns_names_.end()) return out;
    ns_id = found - ns_names_.begin();
  }
  // A min-heap of the best k so far: the scan stays O(n log k) and allocation-free.
  auto worse = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  out.reserve(k + 1);
  for (std::size_t row = 0; row < ids_.size(); ++row) {
    if (ns_id >= 0 && ns_of_[row] != static_cast<std::uint32_t>(ns_id)) continue;
    float score = dot(query.data(), matrix_.data() + row * dim_, dim_);
    if (out.size() < k) {
      out.emplace_back(ids_[row], score);
      std::push_heap(out.begin(), out.end(), worse);
    } else if (score > out.front().second) {
      std::pop_heap(out.begin(), out.end(), worse);
      out.back() = {ids_[row], score};
      std::push_heap(out.begin(), out.end(), worse);
    }
  }
  std::sort_heap(out.begin(), out.end(), worse);
  return out;
}

std::size_t VectorIndex::size() const {
  std::shared_lock lock(mu_);
  return ids_.size();
}

}  // namespace perdiem::memory
