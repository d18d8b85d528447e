// perdiem/memory.hpp: MemoryFile over memory::MemoryStore, and replay_run.
#include "perdiem/memory.hpp"

#include <filesystem>

#include "runtime/memory/memory_store.hpp"
#include "sdk/src/replay_provider.hpp"
#include "sdk/src/runtime_factory.hpp"

namespace perdiem {
namespace {

nlohmann::json step_json(const memory::StepRecord& step) {
  return {{"seq", step.seq},
          {"kind", step.kind},
          {"ts_ms", step.ts_ms},
          {"provider", step.provider},
          {"model", step.model},
          {"latency_ms", step.latency_ms},
          {"input_tokens", step.input_tokens},
          {"output_tokens", step.output_tokens},
          {"cost_nanos", step.cost_nanos},
          {"receipt_id", step.receipt_id},
          {"error", step.error},
          {"request_hash", step.request_hash},
          {"request", step.request},
          {"response", step.response}};
}

RunInfo info_of(const memory::RunSummary& run) {
  RunInfo info;
  info.id = run.id;
  info.agent = run.agent;
  info.script = run.script_path;
  info.status = run.status;
  info.started_ms = run.started_ms;
  info.ended_ms = run.ended_ms;
  info.steps = run.step_count;
  info.cost_nanos = run.cost_nanos;
  info.error = run.error;
  return info;
}

class MemoryFileImpl final : public MemoryFile {
 public:
  explicit MemoryFileImpl(std::unique_ptr<memory::MemoryStore> store) : store_(std::move(store)) {}

  Result<std::vector<RunInfo>> runs(std::size_t limit) override {
    auto runs = store_->list_runs(limit);
    if (!runs) return runs.error();
    std::vector<RunInfo> infos;
    for (const auto& run : *runs) infos.push_back(info_of(run));
    return infos;
  }

  Result<std::string> run_json(const std::string& run_id) override {
    auto detail = store_->get_run(run_id);
    if (!detail) return detail.error();
    const memory::RunSummary& run = detail->run;
    nlohmann::json steps = nlohmann::json::array();
    for (const auto& step : detail->steps) steps.push_back(step_json(step));
    nlohmann::json doc = {{"id", run.id},
                          {"agent", run.agent},
                          {"script", run.script_path},
                          {"script_hash", run.script_hash},
                          {"inputs", run.args},
                          {"started_ms", run.started_ms},
                          {"ended_ms", run.ended_ms},
                          {"status", run.status},
                          {"result", run.result},
                          {"error", run.error},
                          {"cost_nanos", run.cost_nanos},
                          {"steps", std::move(steps)}};
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  Result<std::string> export_jsonl(const std::string& run_id) override {
    return store_->export_run_jsonl(run_id);
  }

  Result<MemoryStats> stats() override {
    auto stats = store_->stats();
    if (!stats) return stats.error();
    MemoryStats out;
    out.runs = stats->runs;
    out.steps = stats->steps;
    out.threads = stats->threads;
    out.messages = stats->messages;
    out.facts = stats->facts;
    out.documents = stats->documents;
    out.chunks = stats->chunks;
    out.embeddings = stats->embeddings;
    out.file_bytes = stats->file_bytes + stats->wal_bytes;
    out.schema_version = stats->schema_version;
    return out;
  }

  Result<std::vector<MemoryHit>> search(const std::string& query, std::size_t k,
                                        const std::string& ns) override {
    memory::RecallOptions options;
    options.k = k;
    options.ns = ns;
    auto hits = store_->recall(query, options);
    if (!hits) return hits.error();
    std::vector<MemoryHit> out;
    for (const auto& hit : *hits) out.push_back({hit.text, hit.ns, hit.source, hit.score});
    return out;
  }

  Result<std::int64_t> prune_runs_older_than(std::chrono::milliseconds age) override {
    return store_->prune_runs_older_than(age);
  }

  Status vacuum() override { return store_->vacuum(); }

 private:
  std::unique_ptr<memory::MemoryStore> store_;
};

Result<ReplayResult> replay(const ReplayOptions& options) {
  Result<std::unique_ptr<memory::MemoryStore>> store =
      memory::MemoryStore::open(options.memory_path);
  if (!store) return store.error();
  Result<memory::RunDetail> recorded = (*store)->get_run(options.run_id);
  if (!recorded) return recorded.error();
  const nlohmann::json& inputs = recorded->run.args;
  const std::string script_path =
      options.script_path.empty() ? recorded->run.script_path : options.script_path;
  if (!std::filesystem::exists(script_path)) {
    return make_error(ErrorKind::not_found,
                      "the plan '" + script_path + "' of run " + options.run_id +
                          " is gone: give its current path (perdiem replay --script PATH)");
  }

  memory::MemoryStore* hasher = store->get();
  auto provider = std::make_unique<sdk::ReplayProvider>(
      inputs.value("provider", std::string("replay")), recorded->steps,
      [hasher](const nlohmann::json& request) { return hasher->request_hash(request); });
  sdk::ReplayProvider* replayer = provider.get();
  RuntimeOptions runtime_options;  // a scratch memory store and an empty wallet
  Result<std::unique_ptr<Runtime>> runtime = sdk::runtime_with_provider(
      std::move(runtime_options), std::move(provider), inputs.value("model", std::string()));
  if (!runtime) return runtime.error();

  RunOptions run_options;
  if (inputs.contains("args") && inputs["args"].is_array()) {
    for (const auto& arg : inputs["args"]) {
      if (arg.is_string()) run_options.args.push_back(arg.get<std::string>());
    }
  }
  run_options.agent = recorded->run.agent;
  ReplayResult out;
  // As the recorded run did: run_file, so require() finds modules beside the plan.
  out.result = (*runtime)->run_file(script_path, run_options);
  out.steps_replayed = replayer->steps_replayed();
  out.recorded_json = recorded->run.result.dump();
  if (std::optional<Error> diverged = replayer->divergence()) return *diverged;
  const bool recorded_ok = recorded->run.status == "ok";
  out.matches_recording = recorded_ok == out.result.ok() &&
                          (!recorded_ok || nlohmann::json::parse(out.result.json, nullptr, false) ==
                                               recorded->run.result);
  return out;
}

}  // namespace

MemoryFile::~MemoryFile() = default;

Result<std::unique_ptr<MemoryFile>> MemoryFile::open(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return make_error(ErrorKind::not_found, "no memory store at " + path +
                                                ": it is created by the first run that "
                                                "uses this home (perdiem run)");
  }
  Result<std::unique_ptr<memory::MemoryStore>> store = memory::MemoryStore::open(path);
  if (!store) return store.error();
  return std::unique_ptr<MemoryFile>(new MemoryFileImpl(std::move(*store)));
}

Result<ReplayResult> replay_run(const ReplayOptions& options) {
  try {
    return replay(options);
  } catch (const std::exception& e) {
    return make_error(ErrorKind::internal, std::string("the replay failed: ") + e.what());
  }
}

}  // namespace perdiem
