// A thin RAII layer over SQLite's C API: a connection (Db) and a prepared statement
// (Stmt). Only what the wallet needs; every fallible call returns a Status whose error
// kind is `storage` and whose message carries SQLite's own text.
// Thread-safety: a Db and its Stmts belong to one thread at a time (the caller locks).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "perdiem/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace perdiem::wallet::sql {

class Stmt;

class Db {
 public:
  // Opens (creating if missing) the database at `path` in serialized-free mode (the
  // caller serializes), with `busy_timeout_ms` for cross-process lock waits, through the
  // VFS named `vfs` (nullptr: SQLite's default).
  static Result<Db> open(const std::string& path, int busy_timeout_ms, const char* vfs = nullptr);

  Db(Db&& other) noexcept : db_(other.db_), cache_(std::move(other.cache_)) {
    other.db_ = nullptr;
  }
  Db& operator=(Db&& other) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs one or more statements that return no rows.
  [[nodiscard]] Status exec(std::string_view sql);
  [[nodiscard]] Result<Stmt> prepare(std::string_view sql);
  // The statement for `sql`, prepared on first use and kept for the connection's life:
  // for queries a hot path runs again and again, where parsing the SQL each time would
  // cost more than running it. The caller resets it (ResetGuard) when done.
  [[nodiscard]] Result<Stmt*> cached(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int changes() const;
  std::int64_t last_insert_rowid() const;
  sqlite3* handle() const { return db_; }
  // The error for the connection's last failed call, prefixed by `what`.
  Error error(std::string_view what) const;

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  void close();
  sqlite3* db_ = nullptr;
  // cached()'s statements by SQL text; finalized before the connection closes.
  std::unique_ptr<std::unordered_map<std::string, Stmt>> cache_;
};

// A prepared statement. bind_* are 1-based like SQLite's; column_* 0-based.
class Stmt {
 public:
  Stmt() = default;
  Stmt(Stmt&& other) noexcept : stmt_(other.stmt_), db_(other.db_) { other.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, std::string_view text);
  // The same without SQLite copying the text: it must stay alive and unchanged until
  // the statement is reset (run() resets it). For the rows written on every call.
  Stmt& bind_borrowed(int index, std::string_view text);
  Stmt& bind_blob(int index, std::span<const std::uint8_t> bytes);
  // bind_borrowed's rule, for bytes stored as a BLOB.
  Stmt& bind_blob_borrowed(int index, std::string_view bytes);
  Stmt& bind_null(int index);

  // One step: true when a row is ready, false when done; an error otherwise.
  [[nodiscard]] Result<bool> step();
  // Steps to completion (for statements that return no rows) and resets.
  [[nodiscard]] Status run();
  // Resets so the statement can run again; clears bindings.
  void reset();

  std::int64_t column_int(int index) const;
  std::string column_text(int index) const;
  std::span<const std::uint8_t> column_blob(int index) const;
  bool column_is_null(int index) const;
  bool column_is_blob(int index) const;

 private:
  friend class Db;
  Stmt(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
};

// Resets a statement on scope exit, so an early return never leaves it mid-query.
class ResetGuard {
 public:
  explicit ResetGuard(Stmt& stmt) : stmt_(stmt) {}
  ~ResetGuard() { stmt_.reset(); }
  ResetGuard(const ResetGuard&) = delete;
  ResetGuard& operator=(const ResetGuard&) = delete;

 private:
  Stmt& stmt_;
};

}  // namespace perdiem::wallet::sql
