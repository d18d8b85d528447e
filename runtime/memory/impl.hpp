// MemoryStore's private state, shared by the files that implement it (memory_store.cpp,
// threads.cpp, facts.cpp, remember.cpp, recall.cpp, traces.cpp, trace_reads.cpp).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "base/clock.hpp"
#include "runtime/memory/memory_store.hpp"
#include "runtime/memory/reader_pool.hpp"
#include "runtime/memory/redactor.hpp"
#include "runtime/memory/vector_index.hpp"
#include "runtime/memory/writer.hpp"

namespace perdiem::memory {

struct MemoryStore::Impl {
  Impl(std::string p, const Options& o, base::Clock& c)
      : path(std::move(p)), clock(c), readers(path, o.busy_timeout_ms, o.max_readers) {}

  std::string path;
  base::Clock& clock;
  ReaderPool readers;
  std::unique_ptr<Writer> writer;

  mutable std::shared_mutex redact_mu;
  Redactor redactor;

  // Next seq of each run begun through this store and not yet ended.
  std::mutex seq_mu;
  std::unordered_map<std::string, std::int64_t> next_seq;

  // Vector indexes by "model/dim", created on first vector recall.
  std::mutex index_mu;
  std::map<std::string, std::unique_ptr<VectorIndex>> indexes;

  std::int64_t now_ms() const { return clock.now_unix_ms(); }
  std::string redact(std::string_view text) const {
    std::shared_lock lock(redact_mu);
    return redactor.apply(text);
  }
  // JSON as stored: compact, redacted; "" for null (stored as SQL NULL).
  std::string stored_json(const nlohmann::json& value) const {
    if (value.is_null()) return {};
    std::string text = value.dump();
    std::shared_lock lock(redact_mu);
    redactor.apply_in_place(text);
    return text;
  }
  VectorIndex& index_for(const std::string& model, std::size_t dim) {
    std::lock_guard lock(index_mu);
    auto& slot = indexes[model + "/" + std::to_string(dim)];
    if (!slot) slot = std::make_unique<VectorIndex>(model, dim);
    return *slot;
  }
};

// Binds `text` at `index`, or NULL when empty (optional columns).
inline void bind_optional(sql::Stmt& stmt, int index, const std::string& text) {
  if (text.empty())
    stmt.bind_null(index);
  else
    stmt.bind(index, text);
}

// A stored JSON column as a value: null for NULL; a string if it is not valid JSON
// (a redaction can in principle cut through JSON syntax; the text is still shown).
nlohmann::json parse_stored_json(const sql::Stmt& stmt, int column);

}  // namespace perdiem::memory
