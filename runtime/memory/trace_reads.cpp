// MemoryStore: reading traces back (list, show, replay lookup, JSON Lines export).
#include "runtime/memory/hash.hpp"
#include "runtime/memory/impl.hpp"

namespace perdiem::memory {
namespace {

const char* kRunColumns =
    "SELECT r.id, coalesce(a.name, ''), r.script_path, r.script_hash, r.args, r.started_ms, "
    "coalesce(r.ended_ms, 0), r.status, r.result, coalesce(r.error, ''), r.cost_nanos, "
    "(SELECT count(*) FROM steps s WHERE s.run_id = r.id) "
    "FROM runs r LEFT JOIN agents a ON a.id = r.agent_id ";

RunSummary read_run(const sql::Stmt& s) {
  RunSummary r;
  r.id = s.column_text(0);
  r.agent = s.column_text(1);
  r.script_path = s.column_text(2);
  r.script_hash = s.column_text(3);
  r.args = parse_stored_json(s, 4);
  r.started_ms = s.column_int(5);
  r.ended_ms = s.column_int(6);
  r.status = s.column_text(7);
  r.result = parse_stored_json(s, 8);
  r.error = s.column_text(9);
  r.cost_nanos = s.column_int(10);
  r.step_count = s.column_int(11);
  return r;
}

Result<std::vector<StepRecord>> read_steps(sql::Db& db, std::string_view run_id) {
  auto stmt = db.cached(
      "SELECT run_id, seq, kind, ts_ms, request, response, coalesce(request_hash, ''), "
      "coalesce(provider, ''), coalesce(model, ''), latency_ms, input_tokens, output_tokens, "
      "cost_nanos, coalesce(receipt_id, ''), coalesce(error, '') "
      "FROM steps WHERE run_id = ?1 ORDER BY seq");
  if (!stmt) return stmt.error();
  sql::Stmt& s = **stmt;
  sql::ResetGuard guard(s);
  s.bind(1, run_id);
  std::vector<StepRecord> out;
  for (;;) {
    auto row = s.step();
    if (!row) return row.error();
    if (!*row) break;
    StepRecord r;
    r.run_id = s.column_text(0);
    r.seq = s.column_int(1);
    r.kind = s.column_text(2);
    r.ts_ms = s.column_int(3);
    r.request = parse_stored_json(s, 4);
    r.response = parse_stored_json(s, 5);
    r.request_hash = s.column_text(6);
    // record_step leaves it NULL unless given: the hash of the request as stored.
    if (r.request_hash.empty() && !s.column_is_null(4)) r.request_hash = sha256_hex(s.column_text(4));
    r.provider = s.column_text(7);
    r.model = s.column_text(8);
    r.latency_ms = s.column_int(9);
    r.input_tokens = s.column_int(10);
    r.output_tokens = s.column_int(11);
    r.cost_nanos = s.column_int(12);
    r.receipt_id = s.column_text(13);
    r.error = s.column_text(14);
    out.push_back(std::move(r));
  }
  return out;
}

Result<RunDetail> read_run_detail(sql::Db& db, std::string_view run_id) {
  auto tx = sql::Transaction::begin(db, false);  // the run and its steps from one snapshot
  if (!tx) return tx.error();
  auto stmt = db.cached(std::string(kRunColumns) + "WHERE r.id = ?1");
  if (!stmt) return stmt.error();
  RunDetail detail;
  {
    sql::ResetGuard guard(**stmt);
    (*stmt)->bind(1, run_id);
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if (!*row)
      return make_error(ErrorKind::not_found,
                        "no run \"" + std::string(run_id) + "\" in memory.db");
    detail.run = read_run(**stmt);
  }
  auto steps = read_steps(db, run_id);
  if (!steps) return steps.error();
  detail.steps = std::move(*steps);
  Status st = (*tx)->commit();
  if (!st.ok()) return st.error();
  return detail;
}

}  // namespace

Result<std::vector<RunSummary>> MemoryStore::list_runs(std::size_t limit) {
  auto lease = impl_->readers.acquire();
  if (!lease) return lease.error();
  auto stmt = lease->db().cached(std::string(kRunColumns) +
                                 "ORDER BY r.started_ms DESC, r.rowid DESC LIMIT ?1");
  if (!stmt) return stmt.error();
  sql::ResetGuard guard(**stmt);
  (*stmt)->bind(1, static_cast<std::int64_t>(limit));
  std::vector<RunSummary> out;
  for (;;) {
    auto row = (*stmt)->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(read_run(**stmt));
  }
  return out;
}

Result<RunDetail> MemoryStore::get_run(std::string_view run_id) {
  auto lease = impl_->readers.acquire();
  if (!lease) return lease.error();
  return read_run_detail(lease->db(), run_id);
}

Result<std::vector<StepRecord>> MemoryStore::recorded_steps(std::string_view run_id) {
  auto detail = get_run(run_id);
  if (!detail) return detail.error();
  return std::move(detail->steps);
}

Result<std::string> MemoryStore::export_run_jsonl(std::string_view run_id) {
  auto detail = get_run(run_id);
  if (!detail) return detail.error();
  const RunSummary& r = detail->run;
  // ordered_json: "type" first, fields in a stable, readable order.
  nlohmann::ordered_json run = {{"type", "run"},
                                {"id", r.id},
                                {"agent", r.agent},
                                {"script_path", r.script_path},
                                {"script_hash", r.script_hash},
                                {"args", r.args},
                                {"started_ms", r.started_ms},
                                {"ended_ms", r.ended_ms},
                                {"status", r.status},
                                {"result", r.result},
                                {"error", r.error},
                                {"cost_nanos", r.cost_nanos},
                                {"steps", r.step_count}};
  std::string out = run.dump() + "\n";
  for (const StepRecord& s : detail->steps) {
    nlohmann::ordered_json step = {{"type", "step"},
                                   {"run_id", s.run_id},
                                   {"seq", s.seq},
                                   {"kind", s.kind},
                                   {"ts_ms", s.ts_ms},
                                   {"request_hash", s.request_hash},
                                   {"provider", s.provider},
                                   {"model", s.model},
                                   {"latency_ms", s.latency_ms},
                                   {"input_tokens", s.input_tokens},
                                   {"output_tokens", s.output_tokens},
                                   {"cost_nanos", s.cost_nanos},
                                   {"receipt_id", s.receipt_id},
                                   {"error", s.error},
                                   {"request", s.request},
                                   {"response", s.response}};
    out += step.dump() + "\n";
  }
  return out;
}

}  // namespace perdiem::memory
