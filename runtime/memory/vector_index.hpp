// Brute-force cosine search over one embedding model's float32 vectors.
//
// SQLite holds the vectors (embeddings.vec, little-endian float32); scanning 100,000
// BLOBs per query would cost far more than the arithmetic, so each model's vectors are
// kept in memory as one contiguous, L2-normalised matrix (cosine = dot product) and
// loaded incrementally: rows for chunks newer than the last one loaded, or everything
// again when meta.chunks_deleted shows rows vanished (also from another process).
// Memory: dim * 4 bytes per chunk (150 MB for 100,000 chunks at 384 dims).
// Thread-safety: search() and refresh() from any thread; refresh excludes searches only
// while it loads new rows.
#pragma once

#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/memory/sql.hpp"

namespace perdiem::memory {

// Vector <-> BLOB (native float32; the build asserts little-endian).
std::vector<std::uint8_t> encode_vector(std::span<const float> v);
// invalid: the BLOB is not `dim` floats.
Result<std::vector<float>> decode_vector(std::span<const std::uint8_t> blob, std::size_t dim);
// Scales `v` to unit length (a zero vector stays zero). False if it has a NaN or infinity.
bool normalize(std::span<float> v);

class VectorIndex {
 public:
  VectorIndex(std::string model, std::size_t dim) : model_(std::move(model)), dim_(dim) {}

  const std::string& model() const { return model_; }
  std::size_t dim() const { return dim_; }

  // Loads what changed since the last refresh, reading through `reader`.
  [[nodiscard]] Status refresh(sql::Db& reader);
  // The k best (chunk id, cosine) for a normalised query, best first; ns "" = any.
  std::vector<std::pair<std::int64_t, float>> search(std::span<const float> query, std::size_t k,
                                                     std::string_view ns) const;
  std::size_t size() const;

 private:
  [[nodiscard]] Status load_after(sql::Db& reader, std::int64_t after_id);

  const std::string model_;
  const std::size_t dim_;
  mutable std::shared_mutex mu_;
  std::vector<std::int64_t> ids_;
  std::vector<std::uint32_t> ns_of_;  // index into ns_names_
  std::vector<std::string> ns_names_;
  std::vector<float> matrix_;  // ids_.size() rows of dim_ floats
  std::int64_t last_id_ = 0;
  std::int64_t deletions_seen_ = -1;
};

}  // namespace perdiem::memory
