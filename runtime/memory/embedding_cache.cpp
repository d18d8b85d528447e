#include "runtime/memory/embedding_cache.hpp"

#include <cmath>
#include <unordered_map>

#include "runtime/memory/hash.hpp"
#include "runtime/memory/vector_index.hpp"

namespace perdiem::memory {

Result<std::vector<EmbeddedText>> embed_cached(sql::Db& reader, const EmbeddingModel& model,
                                               const std::vector<std::string>& texts) {
  if (model.name.empty() || model.dim == 0 || !model.embed)
    return make_error(ErrorKind::invalid_argument,
                      "an embedding model needs a name, a dimension and an embedder");
  std::vector<EmbeddedText> out(texts.size());
  auto lookup =
      reader.cached("SELECT vec FROM embeddings WHERE hash = ?1 AND model = ?2 AND dim = ?3");
  if (!lookup) return lookup.error();
  // Distinct texts missing from the cache, and every position waiting for each.
  std::unordered_map<std::string, std::vector<std::size_t>> waiting;
  std::vector<std::string> missing;
  std::vector<std::string> missing_hash;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    out[i].hash = sha256_hex(texts[i]);
    auto pending = waiting.find(out[i].hash);
    if (pending != waiting.end()) {
      pending->second.push_back(i);
      continue;
    }
    sql::Stmt& s = **lookup;
    sql::ResetGuard guard(s);
    s.bind(1, out[i].hash).bind(2, model.name).bind(3, static_cast<std::int64_t>(model.dim));
    auto row = s.step();
    if (!row) return row.error();
    if (*row) {
      auto v = decode_vector(s.column_blob(0), model.dim);
      if (v) {
        out[i].vector = std::move(*v);
        continue;
      }
    }
    waiting[out[i].hash].push_back(i);
    missing.push_back(texts[i]);
    missing_hash.push_back(out[i].hash);
  }
  if (missing.empty()) return out;

  auto vectors = model.embed(missing);
  if (!vectors) return vectors.error();
  if (vectors->size() != missing.size())
    return make_error(ErrorKind::invalid_argument,
                      "embedder '" + model.name + "' returned " + std::to_string(vectors->size()) +
                          " vectors for " + std::to_string(missing.size()) + " texts");
  for (std::size_t m = 0; m < missing.size(); ++m) {
    auto& v = (*vectors)[m];
    if (v.size() != model.dim)
      return make_error(ErrorKind::invalid_argument,
                        "embedder '" + model.name + "' returned " + std::to_string(v.size()) +
                            " values; the model is declared with " + std::to_string(model.dim));
    for (float x : v)
      if (!std::isfinite(x))
        return make_error(ErrorKind::invalid_argument,
                          "embedder '" + model.name + "' returned a NaN or infinite value");
    const auto& positions = waiting[missing_hash[m]];
    for (std::size_t n = 0; n < positions.size(); ++n) {
      out[positions[n]].vector = v;
      out[positions[n]].fresh = n == 0;  // written once
    }
  }
  return out;
}

Status store_embeddings(sql::Db& writer, const EmbeddingModel& model,
                        const std::vector<EmbeddedText>& embedded) {
  auto insert = writer.cached(
      "INSERT INTO embeddings(hash, model, dim, vec) VALUES(?1, ?2, ?3, ?4) "
      "ON CONFLICT(hash, model) DO NOTHING");
  if (!insert) return insert.error();
  for (const EmbeddedText& e : embedded) {
    if (!e.fresh) continue;
    Status st = (*insert)
                    ->bind(1, e.hash)
                    .bind(2, model.name)
                    .bind(3, static_cast<std::int64_t>(model.dim))
                    .bind_blob(4, encode_vector(e.vector))
                    .run();
    if (!st.ok()) return st;
  }
  return {};
}

}  // namespace perdiem::memory
