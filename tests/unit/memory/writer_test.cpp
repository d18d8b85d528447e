// The writer thread: batching, isolation of a failing operation, flush, and many threads
// writing while others read.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "memory_fixture.hpp"
#include "runtime/memory/schema.hpp"
#include "runtime/memory/writer.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

std::unique_ptr<sql::Db> scratch_db(const std::string& path) {
  auto db = sql::Db::open(path, "memory.db", 1000);
  REQUIRE(db.ok());
  REQUIRE((*db)->exec("PRAGMA journal_mode=WAL; CREATE TABLE t(v INTEGER UNIQUE)").ok());
  return std::move(*db);
}

Writer::Op insert(std::int64_t v) {
  return [v](sql::Db& db) -> Status {
    auto stmt = db.cached("INSERT INTO t(v) VALUES(?1)");
    if (!stmt) return stmt.error();
    return (*stmt)->bind(1, v).run();
  };
}

std::int64_t count_rows(const std::string& path) {
  auto db = sql::Db::open(path, "memory.db", 1000);
  REQUIRE(db.ok());
  return (*db)->scalar("SELECT count(*) FROM t").value();
}

}  // namespace

TEST_CASE("posted operations are committed in batches, far fewer than operations") {
  TempDir dir;
  std::string path = dir.file("w.db");
  Writer writer(scratch_db(path), 256, 100000);
  // Hold the writer so all 5000 are queued before it looks (else the count of batches
  // would depend on how the threads happen to be scheduled).
  std::promise<void> release;
  auto gate = release.get_future().share();
  writer.post([gate](sql::Db&) {
    gate.wait();
    return Status();
  });
  for (int i = 0; i < 5000; ++i) writer.post(insert(i));
  release.set_value();
  REQUIRE(writer.flush().ok());
  CHECK(count_rows(path) == 5000);
  auto stats = writer.stats();
  CHECK(stats.operations == 5002);  // with the gate and the flush marker
  // 5002 operations in batches of at most 256: at least 20 batches; at most the gate's
  // own, then full batches of the 5000, then the flush marker's.
  CHECK(stats.batches >= (5002 + 255) / 256);
  CHECK(stats.batches <= 2 + (5000 + 255) / 256);
}

TEST_CASE("a failing operation fails alone; the rest of its batch commits") {
  TempDir dir;
  std::string path = dir.file("w.db");
  Writer writer(scratch_db(path), 1024, 100000);
  // Hold the writer busy so the next posts land in one batch.
  std::promise<void> release;
  auto gate = release.get_future().share();
  writer.post([gate](sql::Db&) {
    gate.wait();
    return Status();
  });
  writer.post(insert(1));
  writer.post(insert(1));  // duplicate: fails
  writer.post(insert(2));
  release.set_value();
  Status st = writer.flush();
  REQUIRE(!st.ok());
  CHECK(st.error().kind == ErrorKind::storage);
  CHECK(st.error().message.find("UNIQUE") != std::string::npos);
  CHECK(count_rows(path) == 2);
  CHECK(writer.stats().failed_posts == 1);
  CHECK(writer.flush().ok());

  Status sync = writer.call(insert(2));
  CHECK(!sync.ok());  // a synchronous call gets its own error, not flush
  CHECK(writer.flush().ok());
  CHECK(writer.call_alone([](sql::Db& db) { return db.exec("VACUUM"); }).ok());
}

TEST_CASE("destroying the writer commits what is queued") {
  TempDir dir;
  std::string path = dir.file("w.db");
  {
    Writer writer(scratch_db(path), 64, 100000);
    for (int i = 0; i < 1000; ++i) writer.post(insert(i));
  }
  CHECK(count_rows(path) == 1000);
}

TEST_CASE("many threads record steps while others read; nothing is lost or reordered") {
  TempDir dir;
  MemoryStore::Options options;
  options.max_queued = 256;
  auto store = open_store(dir.file("memory.db"), options);
  constexpr int kWriters = 8, kSteps = 300;
  std::vector<std::string> runs;
  for (int w = 0; w < kWriters; ++w) runs.push_back(store->begin_run({}).value());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kSteps; ++i) {
        StepRecord step;
        step.run_id = runs[static_cast<std::size_t>(w)];
        step.kind = "tool";
        step.request = {{"i", i}};
        REQUIRE(store->record_step(step).value() == i);
      }
    });
  }
  std::thread reader([&] {
    while (!done) {
      for (const auto& run : runs) {
        auto detail = store->get_run(run);
        if (!detail.ok()) continue;  // begin_run may not be committed yet
        const auto& steps = detail->steps;
        for (std::size_t i = 0; i < steps.size(); ++i)
          REQUIRE(steps[i].request["i"] == static_cast<int>(i));  // a prefix, in order
      }
      ++reads;
    }
  });
  for (auto& t : threads) t.join();
  REQUIRE(store->flush().ok());
  done = true;
  reader.join();
  CHECK(reads > 0);
  CHECK(store->stats().value().steps == kWriters * kSteps);
}

TEST_CASE("posts wait for company before a commit; a flush or closing ends the wait at once") {
  TempDir dir;
  std::string path = dir.file("w.db");
  const auto started = std::chrono::steady_clock::now();
  {
    // A linger far longer than the test may take: waiting it out would show.
    Writer writer(scratch_db(path), 1024, 100000, std::chrono::seconds(30));
    for (int i = 0; i < 100; ++i) writer.post(insert(i));
    REQUIRE(writer.flush().ok());
    CHECK(count_rows(path) == 100);
    // The 100 posts and the flush marker: one transaction, not one each.
    CHECK(writer.stats().batches == 1);
    for (int i = 100; i < 110; ++i) writer.post(insert(i));
  }  // closing applies the ten still lingering
  CHECK(count_rows(path) == 110);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(20));
}

TEST_CASE("a full batch does not wait out the linger") {
  TempDir dir;
  std::string path = dir.file("w.db");
  Writer writer(scratch_db(path), 16, 100000, std::chrono::seconds(30));
  for (int i = 0; i < 16; ++i) writer.post(insert(i));
  // No flush: the batch is full, so the writer takes it without waiting.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (count_rows(path) < 16 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(count_rows(path) == 16);
}
