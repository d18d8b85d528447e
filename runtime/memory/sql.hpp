// A thin RAII layer over SQLite's C API for memory.db: a connection (Db) with a cache of
// prepared statements, and a statement (Stmt). Every fallible call returns a Status whose
// kind is `storage` and whose message names the database and carries SQLite's own text.
//
// Why not wallet/sqlite.hpp: that copy hard-codes "wallet database"/"wallet.db" in every
// message and opens only read-write; a corrupt memory.db must say so. This one takes a
// label; the two should become one helper in base/ (noted for the lead).
// Thread-safety: a Db and its Stmts belong to one thread at a time.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "perdiem/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace perdiem::memory::sql {

class Stmt;

class Db {
 public:
  // Opens (creating if missing) the database at `path`. `label` ("memory.db") prefixes
  // every error. NOMUTEX: the caller keeps a connection on one thread at a time.
  static Result<std::unique_ptr<Db>> open(const std::string& path, std::string label,
                                          int busy_timeout_ms);
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  ~Db();

  // Runs statements that return no rows (a returned row, as from a PRAGMA, is ignored).
  [[nodiscard]] Status exec(std::string_view sql);
  // A statement prepared once per connection and kept; `sql` must outlive nothing (it is
  // copied). The pointer stays valid until the Db is destroyed. Reset before returning.
  [[nodiscard]] Result<Stmt*> cached(std::string_view sql);
  // First column of the first row of `sql` as an integer (0 when no row).
  [[nodiscard]] Result<std::int64_t> scalar(std::string_view sql);

  int changes() const;
  std::int64_t last_insert_rowid() const;
  sqlite3* handle() const { return db_; }
  const std::string& label() const { return label_; }
  // The connection's last error as a storage Error, prefixed by `what`.
  Error error(std::string_view what) const;

 private:
  Db(sqlite3* db, std::string label) : db_(db), label_(std::move(label)) {}
  sqlite3* db_ = nullptr;
  std::string label_;
  std::map<std::string, std::unique_ptr<Stmt>, std::less<>> cache_;
};

// A prepared statement. bind_* are 1-based like SQLite's; column_* 0-based.
class Stmt {
 public:
  Stmt(sqlite3_stmt* stmt, const Db* db) : stmt_(stmt), db_(db) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt();

  Stmt& bind(int index, std::int64_t value);
  Stmt& bind(int index, std::string_view text);
  // The same without SQLite copying the text: it must stay alive and unchanged until
  // the statement is reset (run() resets it). For the rows written on every call.
  Stmt& bind_borrowed(int index, std::string_view text);
  Stmt& bind_double(int index, double value);
  Stmt& bind_blob(int index, std::span<const std::uint8_t> bytes);
  Stmt& bind_null(int index);

  // One step: true when a row is ready, false when done; a storage error otherwise.
  [[nodiscard]] Result<bool> step();
  // Steps to completion (for statements that return no rows) and resets.
  [[nodiscard]] Status run();
  // Resets so the statement can run again; clears bindings.
  void reset();

  std::int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  std::span<const std::uint8_t> column_blob(int index) const;
  bool column_is_null(int index) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  const Db* db_ = nullptr;
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

// BEGIN on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  // `immediate`: take the write lock now (writers); otherwise a deferred read snapshot.
  static Result<std::unique_ptr<Transaction>> begin(Db& db, bool immediate);
  ~Transaction();
  [[nodiscard]] Status commit();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  explicit Transaction(Db& db) : db_(db) {}
  Db& db_;
  bool open_ = true;
};

}  // namespace perdiem::memory::sql
