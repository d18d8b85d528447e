// memory.db from the outside: the runs recorded there, search, housekeeping, and replay.
// What plans do with memory is in docs/lua-api.md; this is for apps and the command line.
//
// Thread-safety: a MemoryFile may be used from several threads at once. Several
// processes (a running agent and `perdiem runs list`) may open one file together.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/export.h"
#include "perdiem/perdiem.hpp"

namespace perdiem {

struct RunInfo {
  std::string id;
  std::string agent;
  std::string script;           // the plan's path (or chunk name)
  std::string status;           // "running", "ok", "error", "cancelled"
  std::int64_t started_ms = 0;  // Unix time
  std::int64_t ended_ms = 0;    // 0 while running
  std::int64_t steps = 0;
  std::int64_t cost_nanos = 0;
  std::string error;  // how it failed, "" otherwise
};

struct MemoryStats {
  std::int64_t runs = 0, steps = 0, threads = 0, messages = 0, facts = 0, documents = 0, chunks = 0,
               embeddings = 0;
  std::int64_t file_bytes = 0;  // memory.db and its write-ahead log
  int schema_version = 0;
};

struct MemoryHit {
  std::string text;
  std::string ns;
  std::string source;
  double score = 0;  // higher is better
};

class PERDIEM_API MemoryFile {
 public:
  // Opens memory.db at `path`; not_found when there is no such file (it is created by
  // the first run that uses it), storage when it is damaged or newer than this perdiem.
  static Result<std::unique_ptr<MemoryFile>> open(const std::string& path);
  virtual ~MemoryFile();
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;

  // Newest first.
  virtual Result<std::vector<RunInfo>> runs(std::size_t limit) = 0;
  // The run and its steps as one JSON document (requests, answers, costs, receipts).
  virtual Result<std::string> run_json(const std::string& run_id) = 0;
  // JSON Lines: a "run" line, then one "step" line per step.
  virtual Result<std::string> export_jsonl(const std::string& run_id) = 0;
  virtual Result<MemoryStats> stats() = 0;
  // Full-text search over remembered text (BM25), best first.
  virtual Result<std::vector<MemoryHit>> search(const std::string& query, std::size_t k,
                                                const std::string& ns = {}) = 0;
  // Deletes runs that ended (or started, if they never ended) more than `age` ago, with
  // their steps. Returns how many runs went.
  virtual Result<std::int64_t> prune_runs_older_than(std::chrono::milliseconds age) = 0;
  // Rebuilds the file to return free pages to the disk.
  [[nodiscard]] virtual Status vacuum() = 0;

 protected:
  MemoryFile() = default;
};

struct ReplayOptions {
  std::string memory_path;  // the memory.db the run was recorded in
  std::string run_id;
  std::string script_path;  // "" = the recorded path; another path tests a changed plan
};

struct ReplayResult {
  RunResult result;                // the replayed run's own result
  std::string recorded_json;       // what the recorded run returned, as JSON
  bool matches_recording = false;  // same outcome and same JSON result
  int steps_replayed = 0;
};

// Runs the recorded run's plan again, answering every model call from the recording
// (matched by a hash of the request): no network, no spend, and the same result when the
// plan is unchanged. A request the recording does not hold stops the replay with kind
// `invalid_argument` naming the step and showing both requests. Memory (memory.*) and
// wallet figures in a replay come from a scratch store and an empty wallet, so a plan
// whose answer depends on them may differ.
PERDIEM_API Result<ReplayResult> replay_run(const ReplayOptions& options);

}  // namespace perdiem
