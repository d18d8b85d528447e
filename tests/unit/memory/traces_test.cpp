// Runs and steps: recording, reading back, replay lookup, export, pruning, housekeeping.
#include <doctest/doctest.h>

#include <sstream>

#include "memory_fixture.hpp"
#include "runtime/memory/hash.hpp"
#include "runtime/memory/sql.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

StepRecord model_step(const std::string& run, const std::string& prompt) {
  StepRecord s;
  s.run_id = run;
  s.kind = "model";
  s.request = {{"model", "llama-3.3-70b"}, {"messages", {{{"role", "user"}, {"content", prompt}}}}};
  s.response = {{"content", "answer to " + prompt}};
  s.provider = "venice";
  s.model = "llama-3.3-70b";
  s.latency_ms = 120;
  s.input_tokens = 10;
  s.output_tokens = 20;
  s.cost_nanos = 1234;
  s.receipt_id = "rcpt-1";
  return s;
}

}  // namespace

TEST_CASE("a run and its steps are recorded and read back") {
  TempDir dir;
  base::ManualClock clock(1'700'000'000'000);
  MemoryStore::Options options;
  options.clock = &clock;
  auto store = open_store(dir.file("memory.db"), options);

  RunRecord record;
  record.agent = "researcher";
  record.script_path = "agents/research.lua";
  record.script_hash = sha256_hex("print('hi')");
  record.args = {{"topic", "tides"}};
  auto run = store->begin_run(record);
  REQUIRE(run.ok());
  CHECK(run->rfind("run-", 0) == 0);
  CHECK(run->size() == 4 + 16);

  CHECK(store->record_step(model_step(*run, "one")).value() == 0);
  CHECK(store->record_step(model_step(*run, "two")).value() == 1);
  StepRecord tool;
  tool.run_id = *run;
  tool.kind = "tool";
  tool.request = {{"tool", "search"}, {"query", "tides"}};
  tool.error = "timeout after 5 s";
  CHECK(store->record_step(tool).value() == 2);
  clock.advance_ms(5000);
  REQUIRE(store->end_run(*run, run_end("ok", {{"answer", 42}}, "", 2468)).ok());
  REQUIRE(store->flush().ok());

  auto detail = store->get_run(*run);
  REQUIRE(detail.ok());
  const RunSummary& r = detail->run;
  CHECK(r.agent == "researcher");
  CHECK(r.script_path == "agents/research.lua");
  CHECK(r.script_hash == record.script_hash);
  CHECK(r.args == record.args);
  CHECK(r.started_ms == 1'700'000'000'000);
  CHECK(r.ended_ms == 1'700'000'005'000);
  CHECK(r.status == "ok");
  CHECK(r.result["answer"] == 42);
  CHECK(r.cost_nanos == 2468);
  CHECK(r.step_count == 3);
  REQUIRE(detail->steps.size() == 3);
  const StepRecord& s0 = detail->steps[0];
  CHECK(s0.seq == 0);
  CHECK(s0.kind == "model");
  CHECK(s0.request == model_step(*run, "one").request);
  CHECK(s0.response["content"] == "answer to one");
  CHECK(s0.provider == "venice");
  CHECK(s0.latency_ms == 120);
  CHECK(s0.input_tokens == 10);
  CHECK(s0.output_tokens == 20);
  CHECK(s0.cost_nanos == 1234);
  CHECK(s0.receipt_id == "rcpt-1");
  CHECK(detail->steps[2].error == "timeout after 5 s");
  CHECK(detail->steps[2].response.is_null());
}

TEST_CASE("recorded steps carry the request hash replay matches on") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  auto run = store->begin_run(run_record("a")).value();
  auto one = model_step(run, "one");
  REQUIRE(store->record_step(one).ok());
  REQUIRE(store->record_step(model_step(run, "two")).ok());
  REQUIRE(store->flush().ok());
  auto steps = store->recorded_steps(run);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[0].request_hash == store->request_hash(one.request));
  CHECK((*steps)[0].request_hash == sha256_hex(one.request.dump()));
  CHECK((*steps)[0].request_hash != (*steps)[1].request_hash);
  // The hash ignores key order: it is of the JSON value, not of how it was written.
  auto reordered = nlohmann::json::parse(
      R"({"messages":[{"content":"one","role":"user"}],"model":"llama-3.3-70b"})");
  CHECK(store->request_hash(reordered) == (*steps)[0].request_hash);
}

TEST_CASE("a step's hash is computed when it is read; one given is kept; text rows hash alike") {
  TempDir dir;
  const std::string path = dir.file("memory.db");
  auto store = open_store(path);
  auto run = store->begin_run(run_record("a")).value();
  auto plain = model_step(run, "one");
  REQUIRE(store->record_step(plain).ok());
  auto given = model_step(run, "two");
  given.request_hash = "feedface";
  REQUIRE(store->record_step(given).ok());
  // The same request as JSON text already serialized (the runtime's way).
  auto text = model_step(run, "one");
  text.request_text = text.request.dump();
  text.response_text = text.response.dump();
  text.request = nullptr;
  text.response = nullptr;
  REQUIRE(store->record_step(text).ok());
  REQUIRE(store->flush().ok());
  {
    // memory.db keeps no hash it was not given: it is the stored request's.
    auto db = sql::Db::open(path, "memory.db", 1000);
    REQUIRE(db.ok());
    CHECK((*db)->scalar("SELECT count(*) FROM steps WHERE request_hash IS NULL").value() == 2);
  }
  auto steps = store->recorded_steps(run);
  REQUIRE(steps.ok());
  REQUIRE(steps->size() == 3);
  CHECK((*steps)[0].request_hash == store->request_hash(plain.request));
  CHECK((*steps)[1].request_hash == "feedface");
  CHECK((*steps)[2].request_hash == (*steps)[0].request_hash);
  CHECK((*steps)[2].request == plain.request);
  CHECK((*steps)[2].response == plain.response);
  auto detail = store->get_run(run);
  REQUIRE(detail.ok());
  CHECK(detail->steps[0].request_hash == (*steps)[0].request_hash);
}

TEST_CASE("runs are listed newest first; unknown runs are not_found") {
  TempDir dir;
  base::ManualClock clock(1'000'000);
  MemoryStore::Options options;
  options.clock = &clock;
  auto store = open_store(dir.file("memory.db"), options);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(store->begin_run(run_record("agent" + std::to_string(i % 2))).value());
    clock.advance_ms(10);
  }
  REQUIRE(store->flush().ok());
  auto runs = store->list_runs(3);
  REQUIRE(runs.ok());
  REQUIRE(runs->size() == 3);
  CHECK((*runs)[0].id == ids[4]);
  CHECK((*runs)[2].id == ids[2]);
  CHECK((*runs)[0].status == "running");
  CHECK((*runs)[0].ended_ms == 0);
  CHECK(store->get_run("run-nope").error().kind == ErrorKind::not_found);
  CHECK(store->export_run_jsonl("run-nope").error().kind == ErrorKind::not_found);
  CHECK(store->stats().value().agents == 2);
}

TEST_CASE("bad steps are refused at the call; a bad end is reported by flush") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  auto run = store->begin_run({}).value();
  StepRecord bad = model_step(run, "x");
  bad.kind = "dream";
  CHECK(store->record_step(bad).error().kind == ErrorKind::invalid_argument);
  bad = model_step("", "x");
  CHECK(store->record_step(bad).error().kind == ErrorKind::invalid_argument);
  CHECK(store->record_step(model_step("run-unknown", "x")).error().kind == ErrorKind::not_found);
  CHECK(store->end_run(run, run_end("meh")).error().kind == ErrorKind::invalid_argument);

  REQUIRE(store->end_run("run-unknown", {}).ok());  // enqueued
  Status flushed = store->flush();
  REQUIRE(!flushed.ok());
  CHECK(flushed.error().kind == ErrorKind::not_found);
  CHECK(store->flush().ok());  // reported once
  // A duplicate seq fails alone; the step next to it in the batch is kept.
  auto dup = model_step(run, "dup");
  dup.seq = 0;
  REQUIRE(store->record_step(model_step(run, "first")).ok());
  REQUIRE(store->record_step(dup).ok());
  REQUIRE(store->record_step(model_step(run, "after")).ok());
  CHECK(store->flush().error().kind == ErrorKind::storage);
  CHECK(store->get_run(run).value().steps.size() == 2);
}

TEST_CASE("a run begun by another store continues its numbering") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  std::string run;
  {
    auto first = open_store(path);
    run = first->begin_run({}).value();
    REQUIRE(first->record_step(model_step(run, "a")).ok());
    REQUIRE(first->record_step(model_step(run, "b")).ok());
  }
  auto second = open_store(path);
  CHECK(second->record_step(model_step(run, "c")).value() == 2);
  REQUIRE(second->flush().ok());
  CHECK(second->get_run(run).value().steps.back().seq == 2);
}

TEST_CASE("a run exports as JSON Lines: the run, then one line per step") {
  TempDir dir;
  auto store = open_store(dir.file("memory.db"));
  auto run = store->begin_run(run_record("exporter", {{"n", 2}})).value();
  REQUIRE(store->record_step(model_step(run, "one")).ok());
  REQUIRE(store->record_step(model_step(run, "two")).ok());
  REQUIRE(store->end_run(run, run_end("error", nullptr, "gave up")).ok());
  REQUIRE(store->flush().ok());
  auto text = store->export_run_jsonl(run);
  REQUIRE(text.ok());
  std::istringstream in(*text);
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  REQUIRE(lines.size() == 3);
  CHECK(lines[0]["type"] == "run");
  CHECK(lines[0]["id"] == run);
  CHECK(lines[0]["status"] == "error");
  CHECK(lines[0]["error"] == "gave up");
  CHECK(lines[0]["args"]["n"] == 2);
  CHECK(lines[1]["type"] == "step");
  CHECK(lines[1]["seq"] == 0);
  CHECK(lines[2]["request"]["messages"][0]["content"] == "two");
  CHECK(lines[2]["response"]["content"] == "answer to two");
  CHECK(lines[2]["request_hash"].get<std::string>().size() == 64);
  CHECK(text->back() == '\n');
}

TEST_CASE("prune removes old runs and their steps; stats and vacuum") {
  TempDir dir;
  base::ManualClock clock(100LL * 24 * 3600 * 1000);
  MemoryStore::Options options;
  options.clock = &clock;
  auto store = open_store(dir.file("memory.db"), options);
  auto old_run = store->begin_run({}).value();
  for (int i = 0; i < 50; ++i) REQUIRE(store->record_step(model_step(old_run, "old")).ok());
  REQUIRE(store->end_run(old_run, {}).ok());
  auto crashed = store->begin_run({}).value();  // never ended: its start counts
  clock.advance_ms(40LL * 24 * 3600 * 1000);
  auto recent = store->begin_run({}).value();
  REQUIRE(store->record_step(model_step(recent, "new")).ok());
  REQUIRE(store->flush().ok());

  auto before = store->stats();
  REQUIRE(before.ok());
  CHECK(before->runs == 3);
  CHECK(before->steps == 51);
  CHECK(before->file_bytes > 0);
  CHECK(before->schema_version == current_schema_version());

  auto pruned = store->prune_runs_older_than(std::chrono::hours(24 * 30));
  REQUIRE(pruned.ok());
  CHECK(*pruned == 2);
  auto after = store->stats().value();
  CHECK(after.runs == 1);
  CHECK(after.steps == 1);
  CHECK(store->get_run(recent).ok());
  CHECK(store->get_run(crashed).error().kind == ErrorKind::not_found);

  REQUIRE(store->vacuum().ok());
  auto vacuumed = store->stats().value();
  CHECK(vacuumed.wal_bytes == 0);  // checkpointed and truncated
  CHECK(vacuumed.steps == 1);
  CHECK(store->prune_runs_older_than(std::chrono::milliseconds(-1)).error().kind ==
        ErrorKind::invalid_argument);
}
