// The WAL-buffering VFS must leave exactly what SQLite's own VFS would on disk: another
// connection (default VFS) reads every commit, through restarts and checkpoints, and
// through transactions big enough to be written in pieces or to spill mid-transaction.
#include <sqlite3.h>

#include <string>

#include <doctest/doctest.h>

#include "wallet/book.hpp"
#include "wallet/schema.hpp"
#include "wallet/sqlite.hpp"
#include "wallet/wal_vfs.hpp"
#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

sql::Db open_db(const std::string& path, const char* vfs) {
  auto db = sql::Db::open(path, 1000, vfs);
  REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
  REQUIRE(configure_connection(*db).ok());
  return std::move(*db);
}

std::int64_t scalar(sql::Db& db, const char* query) {
  auto stmt = db.prepare(query);
  REQUIRE(stmt.ok());
  auto row = stmt->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return stmt->column_int(0);
}

std::string text(sql::Db& db, const char* query) {
  auto stmt = db.prepare(query);
  REQUIRE(stmt.ok());
  auto row = stmt->step();
  REQUIRE(row.ok());
  REQUIRE(*row);
  return stmt->column_text(0);
}

// Inserts `rows` rows of `bytes` bytes each in one transaction.
void insert(sql::Db& db, int first, int rows, int bytes) {
  REQUIRE(db.exec("BEGIN IMMEDIATE").ok());
  auto stmt = db.prepare("INSERT INTO t(id, v) VALUES(?, ?)");
  REQUIRE(stmt.ok());
  for (int i = first; i < first + rows; ++i) {
    stmt->bind(1, i).bind(2, std::string(static_cast<std::size_t>(bytes), 'a' + i % 26));
    REQUIRE(stmt->run().ok());
  }
  REQUIRE(db.exec("COMMIT").ok());
}

}  // namespace

TEST_CASE("the WAL-buffering VFS is registered and not the default") {
  const char* name = wal_buffering_vfs();
  REQUIRE(name != nullptr);
  REQUIRE(sqlite3_vfs_find(name) != nullptr);
  CHECK(sqlite3_vfs_find(nullptr) != sqlite3_vfs_find(name));
}

TEST_CASE("commits through the buffering VFS read back through the default one") {
  TempDir dir;
  const std::string path = dir.path + "/t.db";
  sql::Db writer = open_db(path, wal_buffering_vfs());
  sql::Db reader = open_db(path, nullptr);
  REQUIRE(writer.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL)").ok());
  REQUIRE(sqlite3_wal_autocheckpoint(writer.handle(), 50) == SQLITE_OK);

  SUBCASE("a commit far larger than one buffered write (128 KiB)") {
    insert(writer, 0, 600, 3000);  // ~1.8 MB in one transaction
    CHECK(scalar(reader, "SELECT count(*) FROM t") == 600);
    CHECK(scalar(reader, "SELECT sum(length(v)) FROM t") == 600 * 3000);
  }
  SUBCASE("many small commits, across checkpoints and WAL restarts") {
    for (int i = 0; i < 400; ++i) {
      insert(writer, i * 3, 3, 700);
      if (i % 97 == 0) CHECK(scalar(reader, "SELECT count(*) FROM t") == (i + 1) * 3);
    }
    CHECK(scalar(reader, "SELECT count(*) FROM t") == 1200);
  }
  SUBCASE("a transaction that spills pages to the WAL before it commits") {
    // A tiny cache makes SQLite write pages mid-transaction and rewrite frames already
    // in the WAL: writes that do not append, and reads of what was just written.
    REQUIRE(writer.exec("PRAGMA cache_size = 8").ok());
    REQUIRE(writer.exec("BEGIN IMMEDIATE").ok());
    for (int round = 0; round < 3; ++round) {
      auto stmt = writer.prepare("INSERT OR REPLACE INTO t(id, v) VALUES(?, ?)");
      REQUIRE(stmt.ok());
      for (int i = 0; i < 300; ++i) {
        stmt->bind(1, i).bind(2, std::string(900, static_cast<char>('a' + round)));
        REQUIRE(stmt->run().ok());
      }
    }
    REQUIRE(writer.exec("COMMIT").ok());
    CHECK(scalar(reader, "SELECT count(*) FROM t") == 300);
    CHECK(scalar(reader, "SELECT count(*) FROM t WHERE v = printf('%.900c', 'c')") == 300);
  }
  CHECK(text(reader, "PRAGMA integrity_check") == "ok");
  // The writer's own view agrees, and a full checkpoint leaves a valid database file.
  REQUIRE(writer.exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  CHECK(text(writer, "PRAGMA integrity_check") == "ok");
  CHECK(scalar(writer, "SELECT count(*) FROM t") == scalar(reader, "SELECT count(*) FROM t"));
}

TEST_CASE("the wallet's writer refuses to run without FULL syncs") {
  TempDir dir;
  sql::Db db = open_db(dir.path + "/t.db", wal_buffering_vfs());
  REQUIRE(create_schema(db).ok());
  REQUIRE(db.exec("PRAGMA synchronous=NORMAL").ok());
  auto book = Book::create(std::move(db), Book::Options{});
  REQUIRE(!book.ok());
  CHECK(book.error().message.find("synchronous=FULL") != std::string::npos);
}
