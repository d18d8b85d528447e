// Redaction at the source: a secret never reaches memory.db, its WAL, or an export.
// The test reads the files' raw bytes, so a secret kept anywhere (a page, a free list,
// an FTS segment, the WAL) is found.
#include <doctest/doctest.h>

#include "memory_fixture.hpp"
#include "runtime/memory/redactor.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

const std::string kApiKey = "sk-or-v1-5ecret0123456789abcdef";
// A secret with characters JSON escapes: in a serialized request it appears as
// pa\"ss\\word, not as itself.
const std::string kQuoted = "pa\"ss\\word-7f3a";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void write_everywhere(MemoryStore& store, const std::string& secret) {
  auto run =
      store.begin_run(run_record("leaky", {{"key", secret}}, "", "agents/" + secret + ".lua"))
          .value();
  StepRecord step;
  step.run_id = run;
  step.kind = "model";
  step.request = {{"headers", {{"Authorization", "Bearer " + secret}}},
                  {"messages", {{{"role", "user"}, {"content", "my key is " + secret}}}}};
  step.response = {{"content", "I saw " + secret}};
  step.error = "401 for key " + secret;
  step.provider = "openrouter";
  for (int i = 0; i < 20; ++i) REQUIRE(store.record_step(step).ok());
  REQUIRE(store.end_run(run, run_end("error", {{"echo", secret}}, secret)).ok());
  REQUIRE(store.append_message("chat", "user", "remember " + secret).ok());
  REQUIRE(store.set_fact("creds", "openrouter", {{"key", secret}}).ok());
  REQUIRE(store
              .remember("The key " + secret + " unlocks the gate.",
                        remember_options(nullptr, 1200, "default", secret))
              .ok());
  REQUIRE(store.flush().ok());
}

}  // namespace

TEST_CASE("a secret given at open never appears in memory.db, its WAL or an export") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  MemoryStore::Options options;
  options.secrets = {kApiKey, kQuoted};
  auto store = open_store(path, options);
  write_everywhere(*store, kApiKey);
  write_everywhere(*store, kQuoted);

  // While open, everything written is in the WAL (no checkpoint yet at this size).
  std::string db = read_bytes(path), wal = read_bytes(path + "-wal");
  CHECK(wal.size() > 0);
  CHECK(contains(db + wal, "[redacted]"));
  CHECK(contains(db + wal, "Bearer [redacted]"));
  for (const std::string& form : {kApiKey, kQuoted, std::string("pa\\\"ss\\\\word-7f3a")}) {
    CHECK(!contains(db, form));
    CHECK(!contains(wal, form));
  }
  auto runs = store->list_runs(10).value();
  REQUIRE(runs.size() == 2);
  for (const auto& run : runs) {
    auto jsonl = store->export_run_jsonl(run.id);
    REQUIRE(jsonl.ok());
    CHECK(contains(*jsonl, "[redacted]"));
    CHECK(!contains(*jsonl, kApiKey));
    CHECK(!contains(*jsonl, "pa\\\"ss\\\\word"));
  }
  // Search still works on the redacted text.
  auto hits = store->recall("gate", {});
  REQUIRE(hits.ok());
  REQUIRE(!hits->empty());
  CHECK(contains(hits->front().text, "The key [redacted] unlocks"));

  store.reset();  // close: checkpoint into memory.db
  std::string closed = read_bytes(path) + read_bytes(path + "-wal");
  CHECK(!contains(closed, kApiKey));
  CHECK(!contains(closed, "pa\\\"ss\\\\word"));
}

TEST_CASE("without redaction the same secret is in the file (the grep above can see it)") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  auto store = open_store(path);
  write_everywhere(*store, kApiKey);
  CHECK(contains(read_bytes(path) + read_bytes(path + "-wal"), kApiKey));
}

TEST_CASE("a secret added after open is redacted from then on") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  auto store = open_store(path);
  REQUIRE(store->add_secret(kApiKey).ok());
  write_everywhere(*store, kApiKey);
  CHECK(!contains(read_bytes(path) + read_bytes(path + "-wal"), kApiKey));
  CHECK(store->add_secret("abc").error().kind == ErrorKind::invalid_argument);
}

TEST_CASE("request hashes are of the redacted request, so replay matches with any key") {
  TempDir dir;
  MemoryStore::Options options;
  options.secrets = {kApiKey};
  auto store = open_store(dir.file("memory.db"), options);
  nlohmann::json with_key = {{"auth", kApiKey}, {"prompt", "hi"}};
  nlohmann::json redacted = {{"auth", "[redacted]"}, {"prompt", "hi"}};
  CHECK(store->request_hash(with_key) == store->request_hash(redacted));
}

TEST_CASE("the redactor replaces every occurrence, longest secret first") {
  Redactor r;
  REQUIRE(r.add("abcd").ok());
  REQUIRE(r.add("abcdefgh").ok());
  CHECK(r.apply("xabcdefghyabcdz abcdabcd") == "x[redacted]y[redacted]z [redacted][redacted]");
  CHECK(r.apply("nothing here") == "nothing here");
  CHECK(r.add("").error().kind == ErrorKind::invalid_argument);
}
