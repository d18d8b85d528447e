// memory.db versions: created at the current version, upgraded when older, refused
// (untouched) when newer; a file that is not a database is a clear storage error.
#include <doctest/doctest.h>

#include <fstream>

#include "memory_fixture.hpp"
#include "runtime/memory/schema.hpp"
#include "runtime/memory/sql.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

std::int64_t user_version(const std::string& path) {
  auto db = sql::Db::open(path, "memory.db", 1000);
  REQUIRE(db.ok());
  auto v = (*db)->scalar("PRAGMA user_version");
  REQUIRE(v.ok());
  return *v;
}

void exec(const std::string& path, const std::string& sql) {
  auto db = sql::Db::open(path, "memory.db", 1000);
  REQUIRE(db.ok());
  Status st = (*db)->exec(sql);
  REQUIRE_MESSAGE(st.ok(), (st.ok() ? "" : st.error().message));
}

}  // namespace

TEST_CASE("a new memory.db is created at the current version, in WAL mode") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  { auto store = open_store(path); }
  CHECK(user_version(path) == current_schema_version());
  auto db = sql::Db::open(path, "memory.db", 1000);
  REQUIRE(db.ok());
  auto stmt = (*db)->cached("PRAGMA journal_mode");
  REQUIRE(stmt.ok());
  REQUIRE((*stmt)->step().value());
  CHECK((*stmt)->column_text(0) == "wal");
  (*stmt)->reset();
  CHECK((*db)->scalar("PRAGMA page_size").value() == 16384);
  // Reopening a current file changes nothing.
  { auto again = open_store(path); }
  CHECK(user_version(path) == current_schema_version());
}

TEST_CASE("a memory.db from a newer perdiem is refused, naming both versions, untouched") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  { auto store = open_store(path); }
  exec(path, "PRAGMA user_version = 99");
  auto before = read_bytes(path);
  auto opened = MemoryStore::open(path);
  REQUIRE(!opened.ok());
  CHECK(opened.error().kind == ErrorKind::storage);
  const std::string& message = opened.error().message;
  CHECK(message.find("schema version 99") != std::string::npos);
  CHECK(message.find("(version " + std::to_string(current_schema_version()) + ")") !=
        std::string::npos);
  CHECK(message.find("upgrade perdiem") != std::string::npos);
  CHECK(message.find(path) != std::string::npos);
  CHECK(read_bytes(path) == before);
}

// This binary has one schema version, so the upgrade path runs with a test-only version
// 2: a file made by "the old binary" (version 1 only) keeps its data when "the new
// binary" (1 then 2) opens it, and the old binary then refuses the upgraded file.
TEST_CASE("an older memory.db is upgraded in place and keeps its data") {
  static const Migration kTestV2 = {2,
                                    "ALTER TABLE facts ADD COLUMN expires_ms INTEGER; "
                                    "CREATE INDEX facts_expiry ON facts(expires_ms);"};
  std::vector<Migration> old_binary(migrations().begin(), migrations().end());
  std::vector<Migration> new_binary = old_binary;
  new_binary.push_back(kTestV2);

  TempDir dir;
  std::string path = dir.file("memory.db");
  MemoryStore::Options old_options;
  old_options.migrations = old_binary;
  {
    auto store = open_store(path, old_options);
    REQUIRE(store->set_fact("prefs", "color", "blue").ok());
    REQUIRE(store->append_message("t", "user", "hello").ok());
  }
  CHECK(user_version(path) == 1);

  MemoryStore::Options new_options;
  new_options.migrations = new_binary;
  {
    auto store = open_store(path, new_options);
    auto fact = store->get_fact("prefs", "color");
    REQUIRE(fact.ok());
    REQUIRE(fact->has_value());
    CHECK(**fact == "blue");
    CHECK(store->history("t", 100).value().size() == 1);
  }
  CHECK(user_version(path) == 2);
  exec(path, "UPDATE facts SET expires_ms = 1");  // the new column exists

  auto refused = MemoryStore::open(path, old_options);
  REQUIRE(!refused.ok());
  CHECK(refused.error().message.find("schema version 2") != std::string::npos);
}

TEST_CASE("a memory.db made with 4 KiB pages keeps them, and its data, when opened") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  exec(path, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL");  // as earlier perdiems made it
  {
    auto store = open_store(path);
    REQUIRE(store->set_fact("prefs", "color", "blue").ok());
  }
  auto db = sql::Db::open(path, "memory.db", 1000);
  REQUIRE(db.ok());
  CHECK((*db)->scalar("PRAGMA page_size").value() == 4096);
  auto store = open_store(path);
  CHECK(store->get_fact("prefs", "color").value().value_or("") == "blue");
}

TEST_CASE("a failed upgrade leaves the older file as it was") {
  static const Migration kBroken = {2, "ALTER TABLE no_such_table ADD COLUMN x INTEGER;"};
  std::vector<Migration> steps(migrations().begin(), migrations().end());
  TempDir dir;
  std::string path = dir.file("memory.db");
  { auto store = open_store(path); }
  steps.push_back(kBroken);
  MemoryStore::Options options;
  options.migrations = steps;
  auto opened = MemoryStore::open(path, options);
  REQUIRE(!opened.ok());
  CHECK(opened.error().kind == ErrorKind::storage);
  CHECK(opened.error().message.find("to schema version 2 failed") != std::string::npos);
  CHECK(user_version(path) == 1);
}

TEST_CASE("a garbage memory.db is a clear storage error, not a crash") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 7919) & 0xff));
  }
  auto before = read_bytes(path);
  auto opened = MemoryStore::open(path);
  REQUIRE(!opened.ok());
  CHECK(opened.error().kind == ErrorKind::storage);
  CHECK(opened.error().message.find("not a readable SQLite database") != std::string::npos);
  CHECK(opened.error().message.find("move it aside") != std::string::npos);
  CHECK(read_bytes(path) == before);
}

TEST_CASE("a directory where memory.db should be is a storage error") {
  TempDir dir;
  std::filesystem::create_directory(dir.file("memory.db"));
  auto opened = MemoryStore::open(dir.file("memory.db"));
  REQUIRE(!opened.ok());
  CHECK(opened.error().kind == ErrorKind::storage);
}
