#include "wallet/sqlite.hpp"

#include <sqlite3.h>

namespace perdiem::wallet::sql {

Result<Db> Db::open(const std::string& path, int busy_timeout_ms, const char* vfs) {
  sqlite3* raw = nullptr;
  // NOMUTEX: each connection is used by one thread at a time; the wallet locks.
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           vfs);
  Db db(raw);
  if (rc != SQLITE_OK) {
    std::string message = "cannot open wallet database '" + path + "': " +
                          (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return make_error(ErrorKind::storage, std::move(message));
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

Db& Db::operator=(Db&& other) noexcept {
  if (this != &other) {
    close();
    db_ = other.db_;
    cache_ = std::move(other.cache_);
    other.db_ = nullptr;
  }
  return *this;
}

Db::~Db() { close(); }

void Db::close() {
  cache_.reset();
  if (db_) sqlite3_close_v2(db_);
  db_ = nullptr;
}

Error Db::error(std::string_view what) const {
  std::string message(what);
  message += ": ";
  message += db_ ? sqlite3_errmsg(db_) : "no database";
  return make_error(ErrorKind::storage, std::move(message), "wallet.db");
}

Status Db::exec(std::string_view sql) {
  std::string text(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string message = "wallet database: ";
    message += err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return make_error(ErrorKind::storage, std::move(message), "wallet.db");
  }
  return {};
}

Result<Stmt> Db::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return error("cannot prepare '" + std::string(sql) + "'");
  return Stmt(stmt, db_);
}

Result<Stmt*> Db::cached(std::string_view sql) {
  if (!cache_) cache_ = std::make_unique<std::unordered_map<std::string, Stmt>>();
  auto found = cache_->find(std::string(sql));
  if (found != cache_->end()) return &found->second;
  auto stmt = prepare(sql);
  if (!stmt) return stmt.error();
  return &cache_->emplace(std::string(sql), std::move(*stmt)).first->second;
}

int Db::changes() const { return sqlite3_changes(db_); }
std::int64_t Db::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    stmt_ = other.stmt_;
    db_ = other.db_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  if (stmt_) sqlite3_finalize(stmt_);
}

Stmt& Stmt::bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::bind_borrowed(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8);
  return *this;
}

Stmt& Stmt::bind_blob(int index, std::span<const std::uint8_t> bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::bind_blob_borrowed(int index, std::string_view bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_STATIC);
  return *this;
}

Stmt& Stmt::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string message = "wallet database: ";
  message += sqlite3_errmsg(db_);
  const char* sql = sqlite3_sql(stmt_);
  if (sql) {
    message += " (in '";
    message += sql;
    message += "')";
  }
  return make_error(ErrorKind::storage, std::move(message), "wallet.db");
}

Status Stmt::run() {
  ResetGuard guard(*this);
  for (;;) {
    auto row = step();
    if (!row.ok()) return row.error();
    if (!row.value()) return {};
  }
}

void Stmt::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Stmt::column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

std::string Stmt::column_text(int index) const {
  const unsigned char* text = sqlite3_column_text(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  return text ? std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size))
              : std::string();
}

std::span<const std::uint8_t> Stmt::column_blob(int index) const {
  const void* blob = sqlite3_column_blob(stmt_, index);
  int size = sqlite3_column_bytes(stmt_, index);
  if (!blob) return {};
  return {static_cast<const std::uint8_t*>(blob), static_cast<std::size_t>(size)};
}

bool Stmt::column_is_null(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_NULL;
}

bool Stmt::column_is_blob(int index) const {
  return sqlite3_column_type(stmt_, index) == SQLITE_BLOB;
}

}  // namespace perdiem::wallet::sql
