#include "runtime/memory/schema.hpp"

#include <sqlite3.h>

#include <string>

namespace perdiem::memory {
namespace {

// Version 1.
// - Text columns holding JSON (args, request, response, result, value, tags) are stored
//   as compact JSON text so `sqlite3 memory.db` shows them readably.
// - Money is integer nano-USD.
// - chunks_fts is an *external content* FTS5 table over chunks(text): the text is stored
//   once (in chunks), bm25 and snippet() still work, and rows can be deleted on SQLite
//   3.40 (contentless tables cannot delete before 3.43's contentless_delete). Triggers
//   keep the index in step with chunks, so no code path can forget to.
// - embeddings are keyed by (content hash, model): a cache shared by every chunk (and
//   query) with the same text, so the same text is never embedded twice.
// - meta.chunks_deleted counts chunk deletions so an in-memory vector index can tell
//   cheaply that rows vanished and reload.
const char* kVersion1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta(key, value) VALUES('chunks_deleted', 0);

CREATE TABLE agents(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL);

CREATE TABLE runs(
  id TEXT PRIMARY KEY,
  agent_id INTEGER REFERENCES agents(id),
  script_path TEXT NOT NULL,
  script_hash TEXT NOT NULL,
  args TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  ended_ms INTEGER,
  status TEXT NOT NULL,
  result TEXT,
  error TEXT,
  cost_nanos INTEGER NOT NULL DEFAULT 0);
CREATE INDEX runs_started ON runs(started_ms);

CREATE TABLE steps(
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  request TEXT,
  response TEXT,
  request_hash TEXT,
  provider TEXT,
  model TEXT,
  latency_ms INTEGER NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cost_nanos INTEGER NOT NULL DEFAULT 0,
  receipt_id TEXT,
  error TEXT,
  UNIQUE(run_id, seq));

CREATE TABLE threads(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY,
  thread_id INTEGER NOT NULL REFERENCES threads(id),
  role TEXT NOT NULL,
  content TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL);
CREATE INDEX messages_thread ON messages(thread_id, id);
CREATE INDEX messages_thread_system ON messages(thread_id, id) WHERE role = 'system';

CREATE TABLE facts(
  ns TEXT NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY(ns, key)) WITHOUT ROWID;

CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  ns TEXT NOT NULL,
  source TEXT NOT NULL,
  tags TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  doc_id INTEGER NOT NULL REFERENCES documents(id),
  ns TEXT NOT NULL,
  seq INTEGER NOT NULL,
  text TEXT NOT NULL,
  hash TEXT NOT NULL);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  text, content='chunks', content_rowid='id', tokenize='porter unicode61');
CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
  UPDATE meta SET value = value + 1 WHERE key = 'chunks_deleted';
END;

CREATE TABLE embeddings(
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  model TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vec BLOB NOT NULL,
  UNIQUE(hash, model));
)sql";

const Migration kMigrations[] = {{1, kVersion1}};

bool is_corrupt(const Status& st, sql::Db& db) {
  if (st.ok()) return false;
  int code = sqlite3_errcode(db.handle()) & 0xff;
  return code == SQLITE_NOTADB || code == SQLITE_CORRUPT;
}

Error corrupt_error(const std::string& path, const Error& cause) {
  return make_error(ErrorKind::storage,
                    "memory.db at '" + path + "' is not a readable SQLite database (" +
                        cause.message +
                        "); move it aside to start with an empty memory, or restore a backup",
                    "memory.db");
}

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}
int current_schema_version() {
  return kMigrations[std::size(kMigrations) - 1].to_version;
}

Status configure_connection(sql::Db& db, bool full_sync) {
  // WAL: readers never block the writer nor each other. synchronous=NORMAL in WAL skips
  // the fsync on each commit (it happens at checkpoint): a power loss may lose the last
  // transactions but never corrupts the file, and a process crash loses nothing
  // committed. Traces and memory can afford that; the wallet's ledger (FULL) cannot.
  // 16 KiB pages, for a file this creates (an existing file keeps its own): every model
  // call appends a ~650-byte step row, and bigger pages mean fewer pages, frames and
  // splits per commit (memory_bench: a traced step 6.9 -> 5.8 us, the file 13% smaller,
  // recall unchanged). It must precede journal_mode, which writes the file's header.
  Status st = db.exec("PRAGMA page_size=16384; PRAGMA journal_mode=WAL");
  if (!st.ok()) return st;
  return db.exec(
      full_sync ? "PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY"
                : "PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768");
}

Status prepare_schema(sql::Db& db, const std::string& path, bool full_sync,
                      std::span<const Migration> steps) {
  const int newest = steps.empty() ? 0 : steps.back().to_version;
  // Checked outside a transaction first so a newer file is refused without a write lock.
  auto version = db.scalar("PRAGMA user_version");
  if (!version) {
    if (is_corrupt(version.error(), db)) return corrupt_error(path, version.error());
    return version.error();
  }
  auto refuse = [&](std::int64_t have) {
    return make_error(ErrorKind::storage,
                      "memory.db at '" + path + "' has schema version " + std::to_string(have) +
                          ", newer than this perdiem understands (version " +
                          std::to_string(newest) +
                          "); upgrade perdiem, or move the file aside to start a new memory",
                      "memory.db");
  };
  if (*version > newest) return refuse(*version);
  Status configured = configure_connection(db, full_sync);
  if (!configured.ok()) {
    if (is_corrupt(configured, db)) return corrupt_error(path, configured.error());
    return configured;
  }
  if (*version == newest) return {};

  auto tx = sql::Transaction::begin(db, true);
  if (!tx) return tx.error();
  // Re-read under the write lock: another process may have migrated meanwhile.
  version = db.scalar("PRAGMA user_version");
  if (!version) return version.error();
  if (*version > newest) return refuse(*version);
  for (const Migration& step : steps) {
    if (step.to_version <= *version) continue;
    Status st = db.exec(step.sql);
    if (!st.ok()) {
      return make_error(ErrorKind::storage,
                        "upgrading memory.db at '" + path + "' to schema version " +
                            std::to_string(step.to_version) + " failed: " + st.error().message,
                        "memory.db");
    }
    st = db.exec("PRAGMA user_version = " + std::to_string(step.to_version));
    if (!st.ok()) return st;
  }
  return (*tx)->commit();
}

}  // namespace perdiem::memory
