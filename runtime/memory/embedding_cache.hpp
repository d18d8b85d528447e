// Embeddings by content hash: looks texts up in memory.db's embeddings table and calls
// the caller's embedder only for the texts never embedded with that model (each distinct
// text once), so re-remembering a text or repeating a query costs no model call.
#pragma once

#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/memory/records.hpp"
#include "runtime/memory/sql.hpp"

namespace perdiem::memory {

struct EmbeddedText {
  std::string hash;           // sha256_hex of the text
  std::vector<float> vector;  // model.dim values, as the embedder returned them
  bool fresh = false;         // computed now (to be written), not read from the cache
};

// invalid_argument when the model is incomplete or the embedder returns the wrong number
// of vectors, a wrong dimension, or a NaN/infinity; the embedder's own error otherwise.
Result<std::vector<EmbeddedText>> embed_cached(sql::Db& reader, const EmbeddingModel& model,
                                               const std::vector<std::string>& texts);

// Inserts the fresh ones (ignoring any another writer stored meanwhile).
[[nodiscard]] Status store_embeddings(sql::Db& writer, const EmbeddingModel& model,
                                      const std::vector<EmbeddedText>& embedded);

}  // namespace perdiem::memory
