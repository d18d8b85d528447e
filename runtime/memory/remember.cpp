// MemoryStore::remember and remember_many: chunk, hash, (embed), then one write.
#include "runtime/memory/chunker.hpp"
#include "runtime/memory/embedding_cache.hpp"
#include "runtime/memory/hash.hpp"
#include "runtime/memory/impl.hpp"

namespace perdiem::memory {
namespace {

struct PreparedDoc {
  std::vector<std::string> chunks;
  std::vector<std::string> hashes;
};

}  // namespace

Result<Remembered> MemoryStore::remember(std::string_view text, const RememberOptions& options) {
  auto many = remember_many(std::vector<std::string_view>{text}, options);
  if (!many) return many.error();
  return std::move(many->front());
}

Result<std::vector<Remembered>> MemoryStore::remember_many(
    const std::vector<std::string_view>& texts, const RememberOptions& options) {
  if (options.ns.empty())
    return make_error(ErrorKind::invalid_argument, "remember needs a namespace");
  std::vector<PreparedDoc> docs(texts.size());
  std::vector<std::string> all_chunks;  // every document's, in order: one embedder call
  for (std::size_t d = 0; d < texts.size(); ++d) {
    // Redacted before chunking, so a secret cut across two chunks cannot survive.
    docs[d].chunks = chunk_text(impl_->redact(texts[d]), options.chunking);
    if (docs[d].chunks.empty())
      return make_error(ErrorKind::invalid_argument, "nothing to remember: the text is empty");
    if (options.embedding)
      all_chunks.insert(all_chunks.end(), docs[d].chunks.begin(), docs[d].chunks.end());
  }

  std::vector<EmbeddedText> embedded;
  if (options.embedding) {
    auto lease = impl_->readers.acquire();
    if (!lease) return lease.error();
    auto got = embed_cached(lease->db(), *options.embedding, all_chunks);
    if (!got) return got.error();
    embedded = std::move(*got);
  }
  std::size_t at = 0;
  for (PreparedDoc& doc : docs) {
    for (const std::string& chunk : doc.chunks)
      doc.hashes.push_back(embedded.empty() ? sha256_hex(chunk) : embedded[at++].hash);
  }

  const std::string source = impl_->redact(options.source);
  const std::string tags = impl_->redact(nlohmann::json(options.tags).dump());
  const std::int64_t now = impl_->now_ms();
  std::vector<Remembered> out(docs.size());
  Status st = impl_->writer->call([&](sql::Db& db) -> Status {
    auto doc_stmt =
        db.cached("INSERT INTO documents(ns, source, tags, created_ms) VALUES(?1, ?2, ?3, ?4)");
    if (!doc_stmt) return doc_stmt.error();
    auto chunk_stmt =
        db.cached("INSERT INTO chunks(doc_id, ns, seq, text, hash) VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!chunk_stmt) return chunk_stmt.error();
    for (std::size_t d = 0; d < docs.size(); ++d) {
      Remembered& r = out[d];
      r.chunk_ids.clear();  // this may run twice (see Writer)
      Status s = (*doc_stmt)->bind(1, options.ns).bind(2, source).bind(3, tags).bind(4, now).run();
      if (!s.ok()) return s;
      r.document_id = db.last_insert_rowid();
      for (std::size_t i = 0; i < docs[d].chunks.size(); ++i) {
        s = (*chunk_stmt)
                ->bind(1, r.document_id)
                .bind(2, options.ns)
                .bind(3, static_cast<std::int64_t>(i))
                .bind(4, docs[d].chunks[i])
                .bind(5, docs[d].hashes[i])
                .run();
        if (!s.ok()) return s;
        r.chunk_ids.push_back(db.last_insert_rowid());
      }
    }
    if (options.embedding) return store_embeddings(db, *options.embedding, embedded);
    return {};
  });
  if (!st.ok()) return st.error();
  at = 0;
  for (std::size_t d = 0; d < docs.size(); ++d)
    for (std::size_t i = 0; i < docs[d].chunks.size(); ++i)
      out[d].newly_embedded += embedded.empty() ? 0 : (embedded[at++].fresh ? 1 : 0);
  return out;
}

}  // namespace perdiem::memory
