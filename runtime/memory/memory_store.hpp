// MemoryStore: everything an agent remembers and every step it took, in one SQLite file
// (memory.db in PERDIEM_HOME). Internal to perdiem; the Lua bindings, the runtime and the
// CLI are its clients.
//
// What it holds:
//   threads   named conversations; history() returns what fits a token budget.
//   facts     JSON values by (namespace, key).
//   documents remember()ed text, chunked, indexed by FTS5 and optionally embedded;
//             recall() searches it by text (bm25), vector (cosine) or both (RRF).
//   traces    runs and their steps (model/tool requests and responses, cost, receipts),
//             exportable as JSON Lines and replayable by request hash.
//
// Threads and durability:
//   - Every member may be called from any thread, concurrently. Several processes may
//     open the same file (SQLite's locks, WAL); each process should open it once.
//   - All writes go through one writer thread that batches them into transactions.
//     record_step/begin_run/end_run enqueue and return without waiting for the disk;
//     the other writers (append_message, set_fact, remember, ...) wait for their commit.
//     flush() waits for everything enqueued; closing the store (destroying it) flushes.
//   - Reads use pooled connections of their own and are never blocked by the writer
//     (WAL). A read sees everything committed; a step enqueued but not yet committed is
//     not visible until flush() (or its batch commits: within about a millisecond, the
//     writer lingering that long so a busy producer's steps share one commit).
//   - synchronous=NORMAL (default): a commit survives a process crash; a power loss may
//     lose the last transactions but never corrupts the file. Options::full_sync makes
//     every commit wait for fsync instead.
//
// Secrets: every text stored passes through the store's redactor first (Options::secrets,
// add_secret): each occurrence of a secret becomes "[redacted]" before it is written,
// so it is in neither memory.db, its WAL, nor an export.
//
// Wiring it in (for the runtime, Lua bindings and CLI):
//   - Open once per process: MemoryStore::open($PERDIEM_HOME/memory.db, options), with
//     options.secrets = every provider API key and keystore secret known at start
//     (add_secret() for any loaded later). Share the pointer; it is thread-safe.
//   - memory.thread(name):append / :history{max_tokens} -> append_message / history.
//     memory.set/get/delete -> set_fact/get_fact/delete_fact. memory.remember ->
//     remember (pass RememberOptions::embedding to make the text vector-searchable);
//     memory.recall -> recall, parse_recall_mode for the mode string. These block: writes
//     wait for their commit (about a millisecond), reads for SQLite, and a vector recall
//     scans every vector (~15 ms at 100,000 chunks). Run them on a worker thread and
//     resume the coroutine with the result, never on the event loop thread.
//   - The EmbeddingModel's embedder is where model.embed (routed, paid) plugs in; it runs
//     on the thread calling remember/recall and only for texts not already cached.
//   - A run: begin_run at start, record_step after each model/tool call settles
//     (request/response as sent and received, receipt id, cost), end_run at the end.
//     These never wait for the disk: safe on the event loop thread. (Only if the writer
//     falls Options::max_queued operations behind does a call wait for room.)
//   - perdiem runs list/show/export -> list_runs / get_run / export_run_jsonl.
//     perdiem memory stats/search/prune/vacuum -> stats / recall / prune_runs_older_than /
//     vacuum.
//   - Replay: recorded_steps(run) gives the steps in order with their request hashes. For
//     each request the replayed script makes, compute request_hash(request) and take the
//     next unused recorded step of that kind with the same hash; its response is the
//     answer. No match is a divergence: report the step's seq and both requests (the
//     recorded one as stored, i.e. redacted).
//
// Errors: values. storage for SQLite failures (a corrupt or newer file at open names the
// path, both versions and what to do); invalid_argument for bad input; not_found for an
// unknown run.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"
#include "perdiem/error.hpp"
#include "runtime/memory/records.hpp"
#include "runtime/memory/schema.hpp"

namespace perdiem::memory {

class MemoryStore {
 public:
  struct Options {
    int busy_timeout_ms = 5000;      // waits for another process's write lock
    std::size_t max_batch = 1024;    // operations per writer transaction
    std::size_t max_queued = 65536;  // enqueueing blocks beyond this many (backpressure)
    std::size_t max_readers = 4;     // idle read connections kept for reuse
    bool full_sync = false;          // synchronous=FULL instead of NORMAL
    // Secrets to redact from everything stored; copied into locked memory at open. Each
    // at least Redactor::kMinSecretBytes long.
    std::vector<std::string_view> secrets;
    base::Clock* clock = nullptr;  // null = the system clock; must outlive the store
    // The schema's migrations; empty = this binary's (tests pass their own).
    std::span<const Migration> migrations;
  };

  // Opens or creates the store at `path`, creating its tables or upgrading an older
  // file. Errors (storage): not a database or corrupt, newer schema than this binary,
  // cannot create the file. Never modifies a file it refuses.
  static Result<std::unique_ptr<MemoryStore>> open(const std::string& path, const Options& options);
  static Result<std::unique_ptr<MemoryStore>> open(const std::string& path) {
    return open(path, Options{});
  }
  ~MemoryStore();  // flushes, then closes
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  const std::string& path() const;
  // Adds a secret to redact from everything stored from now on (e.g. a key loaded after
  // open). invalid_argument if shorter than Redactor::kMinSecretBytes.
  [[nodiscard]] Status add_secret(std::string_view secret);

  // ---- threads ----
  // Appends to `thread` (created on first use); returns the new message. Waits for commit.
  [[nodiscard]] Result<Message> append_message(std::string_view thread, std::string_view role,
                                               std::string_view content);
  // The newest messages whose estimated tokens fit `max_tokens`, plus every system
  // message of the thread whatever the budget, oldest first. Non-system messages are a
  // contiguous newest window: the first that does not fit ends it. Unknown thread: empty.
  [[nodiscard]] Result<std::vector<Message>> history(std::string_view thread,
                                                     std::int64_t max_tokens);

  // ---- facts ----
  [[nodiscard]] Status set_fact(std::string_view ns, std::string_view key,
                                const nlohmann::json& value);
  // nullopt when absent.
  [[nodiscard]] Result<std::optional<nlohmann::json>> get_fact(std::string_view ns,
                                                               std::string_view key);
  // True if a fact was deleted.
  [[nodiscard]] Result<bool> delete_fact(std::string_view ns, std::string_view key);

  // ---- search ----
  // Chunks `text` (see chunker.hpp), stores it under options.ns and indexes it; embeds
  // it when options.embedding is set (the embedder is called on this thread, before the
  // write). invalid_argument for empty text or an embedder returning wrong shapes.
  [[nodiscard]] Result<Remembered> remember(std::string_view text, const RememberOptions& options);
  // remember() for many texts with the same options, in one transaction and (when
  // embedding) one embedder call: the way to ingest a corpus. All or nothing.
  [[nodiscard]] Result<std::vector<Remembered>> remember_many(
      const std::vector<std::string_view>& texts, const RememberOptions& options);
  // Ranked chunks for `query`. text: FTS5 bm25 over a sanitised query (any user text is
  // safe; very common words are dropped, see RecallOptions); vector: cosine similarity to the
  // query's embedding; hybrid: reciprocal rank fusion (k=60) of both top lists. invalid_argument
  // when vector/hybrid lack an embedding model, or k is 0 or above 1000.
  [[nodiscard]] Result<std::vector<RecallHit>> recall(std::string_view query,
                                                      const RecallOptions& options);

  // ---- traces ----
  // Records a run's start; returns its id (record.id, or a generated one). Enqueued.
  [[nodiscard]] Result<std::string> begin_run(const RunRecord& record);
  // Records one step (redacted, hashed) and returns its seq. Enqueued: returns without
  // waiting for the disk. invalid_argument for an unknown kind or missing run id.
  // Taken by value: a caller done with its record moves it in and nothing is copied.
  [[nodiscard]] Result<std::int64_t> record_step(StepRecord step);
  // Records how a run ended. Enqueued.
  [[nodiscard]] Status end_run(std::string_view run_id, const RunEnd& end);
  // Newest first.
  [[nodiscard]] Result<std::vector<RunSummary>> list_runs(std::size_t limit);
  // not_found for an unknown id.
  [[nodiscard]] Result<RunDetail> get_run(std::string_view run_id);
  // A run's steps by seq, each with its request hash: what replay matches against.
  [[nodiscard]] Result<std::vector<StepRecord>> recorded_steps(std::string_view run_id);
  // JSON Lines: {"type":"run",...} then one {"type":"step",...} per step. not_found for
  // an unknown id.
  [[nodiscard]] Result<std::string> export_run_jsonl(std::string_view run_id);
  // The hash record_step stores for `request`: SHA-256 (hex) of its compact JSON (keys
  // sorted), after redaction. Replay hashes a new request the same way to find it.
  std::string request_hash(const nlohmann::json& request) const;

  // ---- housekeeping ----
  // Waits until everything enqueued is committed. Returns the first failure of an
  // enqueued write since the last flush, if any.
  [[nodiscard]] Status flush();
  [[nodiscard]] Result<StoreStats> stats();
  // Deletes runs (and their steps) that ended, or started if never ended, more than
  // `age` ago. Returns how many runs were deleted.
  [[nodiscard]] Result<std::int64_t> prune_runs_older_than(std::chrono::milliseconds age);
  // Rebuilds the file to reclaim space (VACUUM) and truncates the WAL. Waits for the
  // queue first; readers in other processes may make it fail with a busy error.
  [[nodiscard]] Status vacuum();

  // Private state (impl.hpp). Named here only so the implementation files' helpers can
  // take it; nothing outside runtime/memory/ can use it.
  struct Impl;

 private:
  explicit MemoryStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace perdiem::memory
