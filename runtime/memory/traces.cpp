// MemoryStore: recording runs and steps. Each call validates, redacts and hashes on the
// caller's thread, then enqueues the write: the caller never waits for the disk.
#include <algorithm>

#include "base/random.hpp"
#include "runtime/memory/impl.hpp"

namespace perdiem::memory {
namespace {

std::string new_run_id() {
  static const char* kHex = "0123456789abcdef";
  std::uint64_t r = base::secure_random().next_u64();
  std::string id = "run-";
  for (int shift = 60; shift >= 0; shift -= 4) id += kHex[(r >> shift) & 0xf];
  return id;
}

template <std::size_t N>
bool one_of(std::string_view value, const std::string_view (&allowed)[N]) {
  return std::find(std::begin(allowed), std::end(allowed), value) != std::end(allowed);
}

}  // namespace

Result<std::string> MemoryStore::begin_run(const RunRecord& record) {
  std::string id = record.id.empty() ? new_run_id() : record.id;
  std::int64_t started = record.started_ms ? record.started_ms : impl_->now_ms();
  std::string agent = impl_->redact(record.agent);
  std::string script_path = impl_->redact(record.script_path);
  std::string args = impl_->redact(record.args.dump());
  {
    std::lock_guard lock(impl_->seq_mu);
    impl_->next_seq.emplace(id, 0);
  }
  impl_->writer->post([=, hash = record.script_hash](sql::Db& db) -> Status {
    if (!agent.empty()) {
      auto upsert = db.cached(
          "INSERT INTO agents(name, created_ms) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING");
      if (!upsert) return upsert.error();
      Status s = (*upsert)->bind(1, agent).bind(2, started).run();
      if (!s.ok()) return s;
    }
    auto insert = db.cached(
        "INSERT INTO runs(id, agent_id, script_path, script_hash, args, started_ms, status) "
        "VALUES(?1, (SELECT id FROM agents WHERE name = ?2), ?3, ?4, ?5, ?6, 'running')");
    if (!insert) return insert.error();
    return (*insert)
        ->bind(1, id)
        .bind(2, agent)
        .bind(3, script_path)
        .bind(4, hash)
        .bind(5, args)
        .bind(6, started)
        .run();
  });
  return id;
}

Result<std::int64_t> MemoryStore::record_step(StepRecord step) {
  if (step.run_id.empty())
    return make_error(ErrorKind::invalid_argument, "a step needs its run's id");
  if (!one_of(step.kind, kStepKinds))
    return make_error(ErrorKind::invalid_argument,
                      "unknown step kind \"" + step.kind + "\" (model, tool, embed, log, error)");
  std::int64_t seq = step.seq;
  bool known = false;
  {
    std::lock_guard lock(impl_->seq_mu);
    auto found = impl_->next_seq.find(step.run_id);
    if (found != impl_->next_seq.end()) {
      known = true;
      if (seq < 0) seq = found->second;
      found->second = std::max(found->second, seq + 1);
    }
  }
  if (!known) {
    // A run begun elsewhere (another process, or before a restart): continue its numbering.
    auto lease = impl_->readers.acquire();
    if (!lease) return lease.error();
    auto stmt = lease->db().cached(
        "SELECT (SELECT count(*) FROM runs WHERE id = ?1), "
        "(SELECT coalesce(max(seq) + 1, 0) FROM steps WHERE run_id = ?1)");
    if (!stmt) return stmt.error();
    sql::ResetGuard guard(**stmt);
    (*stmt)->bind(1, step.run_id);
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if ((*stmt)->column_int(0) == 0)
      return make_error(ErrorKind::not_found, "no run \"" + step.run_id + "\" in memory.db");
    std::lock_guard lock(impl_->seq_mu);
    auto [it, inserted] = impl_->next_seq.emplace(step.run_id, (*stmt)->column_int(1));
    if (seq < 0) seq = it->second;
    it->second = std::max(it->second, seq + 1);
  }

  // Everything below is what reaches the disk: redacted here, before it is queued.
  struct Row {
    std::string run_id, kind, request, response, hash, provider, model, receipt, error;
    std::int64_t seq, ts, latency, in, out, cost;
  };
  if (step.request_text.empty() && !step.request.is_null()) step.request_text = step.request.dump();
  if (step.response_text.empty() && !step.response.is_null())
    step.response_text = step.response.dump();
  Row row{std::move(step.run_id),
          std::move(step.kind),
          std::move(step.request_text),
          std::move(step.response_text),
          std::move(step.request_hash),
          std::move(step.provider),
          std::move(step.model),
          std::move(step.receipt_id),
          std::move(step.error),
          seq,
          step.ts_ms ? step.ts_ms : impl_->now_ms(),
          step.latency_ms,
          step.input_tokens,
          step.output_tokens,
          step.cost_nanos};
  {
    // The record is ours (taken by value): redacted in place, under one lock.
    std::shared_lock lock(impl_->redact_mu);
    for (std::string* text :
         {&row.request, &row.response, &row.provider, &row.model, &row.receipt, &row.error})
      impl_->redactor.apply_in_place(*text);
  }
  // A hash not given is left NULL: it is the stored request's, so reads compute it
  // (read_steps) rather than every step paying for it while few are ever replayed.
  impl_->writer->post([row = std::move(row)](sql::Db& db) -> Status {
    auto insert = db.cached(
        "INSERT INTO steps(run_id, seq, kind, ts_ms, request, response, request_hash, "
        "provider, model, latency_ms, input_tokens, output_tokens, cost_nanos, receipt_id, "
        "error) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)");
    if (!insert) return insert.error();
    sql::Stmt& s = **insert;
    // The row outlives run(), which resets the statement: SQLite need not copy its text.
    const auto text = [&s](int index, const std::string& value) {
      if (value.empty()) s.bind_null(index);
      else s.bind_borrowed(index, value);
    };
    s.bind_borrowed(1, row.run_id).bind(2, row.seq).bind_borrowed(3, row.kind).bind(4, row.ts);
    text(5, row.request);
    text(6, row.response);
    text(7, row.hash);
    text(8, row.provider);
    text(9, row.model);
    s.bind(10, row.latency).bind(11, row.in).bind(12, row.out).bind(13, row.cost);
    text(14, row.receipt);
    text(15, row.error);
    return s.run();
  });
  return seq;
}

Status MemoryStore::end_run(std::string_view run_id, const RunEnd& end) {
  if (!one_of(end.status, kRunEndStatuses))
    return make_error(ErrorKind::invalid_argument,
                      "a run ends \"ok\", \"error\" or \"cancelled\", not \"" + end.status + "\"");
  std::string id(run_id);
  std::string result = impl_->stored_json(end.result);
  std::string error = impl_->redact(end.error);
  std::int64_t ended = end.ended_ms ? end.ended_ms : impl_->now_ms();
  {
    std::lock_guard lock(impl_->seq_mu);
    impl_->next_seq.erase(id);
  }
  impl_->writer->post([=, status = end.status, cost = end.cost_nanos](sql::Db& db) -> Status {
    auto update = db.cached(
        "UPDATE runs SET ended_ms = ?2, status = ?3, result = ?4, error = ?5, cost_nanos = ?6 "
        "WHERE id = ?1");
    if (!update) return update.error();
    sql::Stmt& s = **update;
    s.bind(1, id).bind(2, ended).bind(3, status);
    bind_optional(s, 4, result);
    bind_optional(s, 5, error);
    s.bind(6, cost);
    Status st = s.run();
    if (st.ok() && db.changes() == 0)
      return make_error(ErrorKind::not_found, "end_run: no run \"" + id + "\" in memory.db");
    return st;
  });
  return {};
}

}  // namespace perdiem::memory
