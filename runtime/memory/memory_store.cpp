// MemoryStore: opening, closing, secrets, flush and housekeeping. The other members live
// in threads.cpp, facts.cpp, remember.cpp, recall.cpp, traces.cpp and trace_reads.cpp.
#include "runtime/memory/memory_store.hpp"

#include <filesystem>

#include "runtime/memory/hash.hpp"
#include "runtime/memory/impl.hpp"

namespace perdiem::memory {

nlohmann::json parse_stored_json(const sql::Stmt& stmt, int column) {
  if (stmt.column_is_null(column)) return nullptr;
  std::string text = stmt.column_text(column);
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return text;
  return parsed;
}

MemoryStore::MemoryStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MemoryStore::~MemoryStore() {
  // Destroying the writer applies everything still queued, then joins its thread.
  impl_->writer.reset();
}

Result<std::unique_ptr<MemoryStore>> MemoryStore::open(const std::string& path,
                                                       const Options& options) {
  auto impl =
      std::make_unique<Impl>(path, options, options.clock ? *options.clock : base::system_clock());
  for (std::string_view secret : options.secrets) {
    Status st = impl->redactor.add(secret);
    if (!st.ok()) return st.error();
  }
  auto db = sql::Db::open(path, "memory.db", options.busy_timeout_ms);
  if (!db) return db.error();
  Status st = prepare_schema(**db, path, options.full_sync,
                             options.migrations.empty() ? migrations() : options.migrations);
  if (!st.ok()) return st.error();
  impl->writer = std::make_unique<Writer>(std::move(*db), options.max_batch, options.max_queued);
  return std::unique_ptr<MemoryStore>(new MemoryStore(std::move(impl)));
}

const std::string& MemoryStore::path() const {
  return impl_->path;
}

Status MemoryStore::add_secret(std::string_view secret) {
  std::unique_lock lock(impl_->redact_mu);
  return impl_->redactor.add(secret);
}

std::string MemoryStore::request_hash(const nlohmann::json& request) const {
  return sha256_hex(impl_->redact(request.dump()));
}

Status MemoryStore::flush() {
  return impl_->writer->flush();
}

Result<StoreStats> MemoryStore::stats() {
  auto lease = impl_->readers.acquire();
  if (!lease) return lease.error();
  auto stmt = lease->db().cached(
      "SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM runs),"
      " (SELECT count(*) FROM steps), (SELECT count(*) FROM threads),"
      " (SELECT count(*) FROM messages), (SELECT count(*) FROM facts),"
      " (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks),"
      " (SELECT count(*) FROM embeddings)");
  if (!stmt) return stmt.error();
  sql::Stmt& s = **stmt;
  sql::ResetGuard guard(s);
  auto row = s.step();
  if (!row) return row.error();
  StoreStats out;
  std::int64_t* fields[] = {&out.agents, &out.runs,      &out.steps,  &out.threads,   &out.messages,
                            &out.facts,  &out.documents, &out.chunks, &out.embeddings};
  for (int i = 0; i < 9; ++i) *fields[i] = s.column_int(i);
  auto version = lease->db().scalar("PRAGMA user_version");
  if (!version) return version.error();
  out.schema_version = static_cast<int>(*version);
  std::error_code ec;
  auto size = std::filesystem::file_size(impl_->path, ec);
  out.file_bytes = ec ? 0 : static_cast<std::int64_t>(size);
  size = std::filesystem::file_size(impl_->path + "-wal", ec);
  out.wal_bytes = ec ? 0 : static_cast<std::int64_t>(size);
  return out;
}

Result<std::int64_t> MemoryStore::prune_runs_older_than(std::chrono::milliseconds age) {
  if (age.count() < 0) return make_error(ErrorKind::invalid_argument, "prune age is negative");
  const std::int64_t cutoff = impl_->now_ms() - age.count();
  std::int64_t deleted = 0;
  Status st = impl_->writer->call([&](sql::Db& db) -> Status {
    const char* kOld = "coalesce(ended_ms, started_ms) < ?1";
    auto steps = db.cached(
        std::string("DELETE FROM steps WHERE run_id IN (SELECT id FROM runs WHERE ") + kOld + ")");
    if (!steps) return steps.error();
    Status s = (*steps)->bind(1, cutoff).run();
    if (!s.ok()) return s;
    auto runs = db.cached(std::string("DELETE FROM runs WHERE ") + kOld);
    if (!runs) return runs.error();
    s = (*runs)->bind(1, cutoff).run();
    if (!s.ok()) return s;
    deleted = db.changes();
    return {};
  });
  if (!st.ok()) return st.error();
  return deleted;
}

Status MemoryStore::vacuum() {
  return impl_->writer->call_alone([](sql::Db& db) -> Status {
    Status st = db.exec("VACUUM");
    if (!st.ok()) return st;
    // VACUUM in WAL mode writes the whole file into the WAL; checkpoint it back.
    return db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  });
}

}  // namespace perdiem::memory
