// MemoryStore::recall: text (FTS5 bm25), vector (cosine) and hybrid (RRF) search.
#include <algorithm>

#include "runtime/memory/embedding_cache.hpp"
#include "runtime/memory/fts_query.hpp"
#include "runtime/memory/fusion.hpp"
#include "runtime/memory/impl.hpp"

namespace perdiem::memory {

Result<RecallMode> parse_recall_mode(std::string_view name) {
  if (name == "text") return RecallMode::text;
  if (name == "vector") return RecallMode::vector;
  if (name == "hybrid") return RecallMode::hybrid;
  return make_error(ErrorKind::invalid_argument,
                    "recall mode must be \"text\", \"vector\" or "
                    "\"hybrid\", not \"" +
                        std::string(name) + "\"");
}

namespace {

inline constexpr std::size_t kMaxK = 1000;
// Each list hybrid fuses is this much longer than k: a chunk ranked 12th by text and 3rd
// by vector must be in both lists to be fused fairly.
inline constexpr std::size_t kHybridDepth = 4;
inline constexpr std::size_t kHybridMinDepth = 50;

using Ranked = std::vector<std::pair<std::int64_t, double>>;

// How many chunks contain `term`, counting no further than `cap` (so a common word costs
// a bounded walk of its doclist, not a full one).
Result<std::int64_t> chunks_with_term(sql::Db& db, const std::string& term, std::size_t cap) {
  auto stmt = db.cached(
      "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ?1 LIMIT ?2)");
  if (!stmt) return stmt.error();
  sql::ResetGuard guard(**stmt);
  (*stmt)->bind(1, fts_expression({term}, "")).bind(2, static_cast<std::int64_t>(cap));
  auto row = (*stmt)->step();
  if (!row) return row.error();
  return (*stmt)->column_int(0);
}

Result<Ranked> text_search(sql::Db& db, std::string_view query, const RecallOptions& options,
                           std::size_t limit) {
  Ranked out;
  std::vector<std::string> present, rare;
  const std::size_t cap = std::max<std::size_t>(options.common_term_chunks, 1);
  for (auto& term : fts_terms(query)) {
    auto n = chunks_with_term(db, term, cap);
    if (!n) return n.error();
    if (*n == 0) continue;  // matches nothing: leaving it out changes no score
    if (static_cast<std::size_t>(*n) < cap) rare.push_back(term);
    present.push_back(std::move(term));
  }
  std::string match =
      rare.empty() ? fts_expression(present, " AND ") : fts_expression(rare, " OR ");
  if (match.empty()) return out;
  std::int64_t first_rowid = 0;  // FTS5 seeks to it: rows below are never read
  if (rare.empty()) {
    auto newest = db.scalar("SELECT coalesce(max(id), 0) FROM chunks");
    if (!newest) return newest.error();
    first_rowid = *newest - static_cast<std::int64_t>(options.common_query_window);
  }
  // `rank` is bm25() (lower is better); FTS5 sorts by it and stops at LIMIT itself.
  const std::string& ns = options.ns;
  auto stmt = ns.empty() ? db.cached(
                               "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?1 "
                               "AND rowid > ?4 ORDER BY rank LIMIT ?3")
                         : db.cached(
                               "SELECT f.rowid, f.rank FROM chunks_fts f JOIN chunks c "
                               "ON c.id = f.rowid WHERE chunks_fts MATCH ?1 AND c.ns = ?2 "
                               "AND f.rowid > ?4 ORDER BY f.rank LIMIT ?3");
  if (!stmt) return stmt.error();
  sql::Stmt& s = **stmt;
  sql::ResetGuard guard(s);
  s.bind(1, match).bind(3, static_cast<std::int64_t>(limit)).bind(4, first_rowid);
  if (!ns.empty()) s.bind(2, ns);
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    out.emplace_back(s.column_int(0), -s.column_double(1));
  }
  return out;
}

Result<Ranked> vector_search(MemoryStore::Impl& impl, sql::Db& db, std::string_view query,
                             const RecallOptions& options, std::size_t limit) {
  const EmbeddingModel& model = *options.embedding;
  auto embedded = embed_cached(db, model, {std::string(query)});
  if (!embedded) return embedded.error();
  std::vector<float> q = embedded->front().vector;
  if (embedded->front().fresh) {
    // Cache the query's embedding too. Waiting for the commit (about a millisecond, after
    // a model call that took far longer) means the same query right after is a hit.
    Status st =
        impl.writer->call([&](sql::Db& w) { return store_embeddings(w, model, *embedded); });
    if (!st.ok()) return st.error();
  }
  normalize(q);
  VectorIndex& index = impl.index_for(model.name, model.dim);
  Status st = index.refresh(db);
  if (!st.ok()) return st.error();
  Ranked out;
  for (auto& [id, score] : index.search(q, limit, options.ns)) out.emplace_back(id, score);
  return out;
}

}  // namespace

Result<std::vector<RecallHit>> MemoryStore::recall(std::string_view query,
                                                   const RecallOptions& options) {
  if (options.k == 0 || options.k > kMaxK)
    return make_error(ErrorKind::invalid_argument,
                      "recall k must be between 1 and " + std::to_string(kMaxK));
  if (options.mode != RecallMode::text && !options.embedding)
    return make_error(ErrorKind::invalid_argument,
                      "vector and hybrid recall need an embedding model");
  auto lease = impl_->readers.acquire();
  if (!lease) return lease.error();
  sql::Db& db = lease->db();

  Ranked ranked;
  if (options.mode == RecallMode::text) {
    auto got = text_search(db, query, options, options.k);
    if (!got) return got.error();
    ranked = std::move(*got);
  } else if (options.mode == RecallMode::vector) {
    auto got = vector_search(*impl_, db, query, options, options.k);
    if (!got) return got.error();
    ranked = std::move(*got);
  } else {
    const std::size_t depth = std::max(options.k * kHybridDepth, kHybridMinDepth);
    auto text = text_search(db, query, options, depth);
    if (!text) return text.error();
    auto vec = vector_search(*impl_, db, query, options, depth);
    if (!vec) return vec.error();
    std::vector<std::vector<std::int64_t>> lists(2);
    for (auto& [id, score] : *text) lists[0].push_back(id);
    for (auto& [id, score] : *vec) lists[1].push_back(id);
    ranked = reciprocal_rank_fusion(lists);
    if (ranked.size() > options.k) ranked.resize(options.k);
  }

  auto fetch = db.cached(
      "SELECT c.doc_id, c.text, c.ns, d.source FROM chunks c JOIN documents d "
      "ON d.id = c.doc_id WHERE c.id = ?1");
  if (!fetch) return fetch.error();
  std::vector<RecallHit> hits;
  for (auto& [id, score] : ranked) {
    sql::Stmt& s = **fetch;
    sql::ResetGuard guard(s);
    s.bind(1, id);
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) continue;  // deleted since it was indexed
    hits.push_back(RecallHit{id, s.column_int(0), s.column_text(1), s.column_text(2),
                             s.column_text(3), score, static_cast<int>(hits.size() + 1)});
  }
  return hits;
}

}  // namespace perdiem::memory
