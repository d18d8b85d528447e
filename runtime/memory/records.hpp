// The values MemoryStore takes and returns. Plain structs; copy freely.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "runtime/memory/chunker.hpp"

namespace perdiem::memory {

// ---- threads ------------------------------------------------------------------------

struct Message {
  std::int64_t id = 0;  // increases with time within a store
  std::string role;     // "system", "user", "assistant", "tool", ...
  std::string content;
  std::int64_t tokens = 0;  // estimate_tokens(content), fixed when appended
  std::int64_t ts_ms = 0;
};

// The token estimate history() budgets with: 4 tokens of per-message framing plus one
// per 4 bytes of content, rounded up. Deliberately provider-neutral and slightly
// generous; the exact count depends on a model's tokenizer, which the store does not have.
std::int64_t estimate_tokens(std::string_view content);

// ---- search -------------------------------------------------------------------------

// Embeds a batch of texts, returning one vector per text in order, each `dim` floats.
// The store never calls a model itself: the runtime supplies this (routed and paid like
// any call). It may be called from whichever thread calls remember()/recall().
using Embedder =
    std::function<Result<std::vector<std::vector<float>>>(const std::vector<std::string>&)>;

struct EmbeddingModel {
  std::string name;     // e.g. "openai/text-embedding-3-small"; part of the cache key
  std::size_t dim = 0;  // every vector it returns must have this many values
  Embedder embed;
};

struct RememberOptions {
  std::string ns = "default";
  std::vector<std::string> tags;
  std::string source;  // where the text came from: a URL, a file, "conversation"
  ChunkOptions chunking;
  // When set, every chunk gets an embedding (from the cache by content hash when the same
  // text was embedded before, else from `embedding->embed`), so vector recall finds it.
  const EmbeddingModel* embedding = nullptr;
};

struct Remembered {
  std::int64_t document_id = 0;
  std::vector<std::int64_t> chunk_ids;
  std::size_t newly_embedded = 0;  // texts sent to the embedder (the rest were cached)
};

enum class RecallMode { text, vector, hybrid };
// "text" | "vector" | "hybrid"; invalid_argument otherwise.
Result<RecallMode> parse_recall_mode(std::string_view name);

struct RecallOptions {
  std::size_t k = 5;  // at most this many hits (1..1000)
  std::string ns;     // "" searches every namespace
  RecallMode mode = RecallMode::text;
  // Required for vector and hybrid: embeds the query (cached like chunks) and names the
  // vectors searched (only chunks embedded with this model and dimension).
  const EmbeddingModel* embedding = nullptr;
  // Text search: a query word found in at least this many chunks is "common" and left
  // out of the search when rarer words remain (as stop words are). Such words barely move
  // bm25 (their IDF is near zero) but make FTS5 score every chunk containing them,
  // which costs tens of milliseconds at 100,000 chunks. When every word is common, the
  // search requires all of them (AND) and, to bound its cost, looks only at the newest
  // common_query_window chunks.
  std::size_t common_term_chunks = 2000;
  std::size_t common_query_window = 20000;
};

struct RecallHit {
  std::int64_t chunk_id = 0;
  std::int64_t document_id = 0;
  std::string text;
  std::string ns;
  std::string source;
  // Higher is better; comparable only within one result list. text: -bm25; vector:
  // cosine similarity; hybrid: the reciprocal-rank-fusion score.
  double score = 0;
  int rank = 0;  // 1 = best
};

// ---- traces -------------------------------------------------------------------------

struct RunRecord {
  std::string id;  // "" = generated ("run-" + 16 hex digits)
  std::string agent;
  std::string script_path;
  std::string script_hash;                         // e.g. sha256 of the script's bytes
  nlohmann::json args = nlohmann::json::object();  // the plan's arguments
  std::int64_t started_ms = 0;                     // 0 = now
};

// Kinds a step may have; the store accepts only these.
inline constexpr std::string_view kStepKinds[] = {"model", "tool", "embed", "log", "error"};

struct StepRecord {
  std::string run_id;
  std::int64_t seq = -1;     // -1 = next in the run (assigned by record_step)
  std::string kind;          // one of kStepKinds
  std::int64_t ts_ms = 0;    // 0 = now
  nlohmann::json request;    // null = none
  nlohmann::json response;   // null = none
  // The same as JSON text, already serialized as stored (compact, keys sorted, as
  // dump() writes): when not empty, recorded instead of `request`/`response`, so a
  // caller that writes the text directly (the runtime, on every model call) skips the
  // document. record_step only; reads fill request/response.
  std::string request_text;
  std::string response_text;
  // "" = MemoryStore::request_hash(request). Reads always fill it; memory.db keeps NULL
  // when it was not given, since it is the SHA-256 of the stored request column.
  std::string request_hash;
  std::string provider;
  std::string model;
  std::int64_t latency_ms = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cost_nanos = 0;  // nano-USD
  std::string receipt_id;
  std::string error;
};

// Run outcomes end_run accepts; a run not yet ended has status "running".
inline constexpr std::string_view kRunEndStatuses[] = {"ok", "error", "cancelled"};

struct RunEnd {
  std::string status = "ok";  // one of kRunEndStatuses
  nlohmann::json result;      // null = none
  std::string error;
  std::int64_t cost_nanos = 0;  // the run's total, nano-USD
  std::int64_t ended_ms = 0;    // 0 = now
};

struct RunSummary {
  std::string id;
  std::string agent;
  std::string script_path;
  std::string script_hash;
  nlohmann::json args;
  std::int64_t started_ms = 0;
  std::int64_t ended_ms = 0;  // 0 while running
  std::string status;         // "running", "ok", "error", "cancelled"
  nlohmann::json result;
  std::string error;
  std::int64_t cost_nanos = 0;
  std::int64_t step_count = 0;
};

struct RunDetail {
  RunSummary run;
  std::vector<StepRecord> steps;  // by seq
};

// ---- housekeeping -------------------------------------------------------------------

struct StoreStats {
  std::int64_t agents = 0, runs = 0, steps = 0, threads = 0, messages = 0, facts = 0, documents = 0,
               chunks = 0, embeddings = 0;
  std::int64_t file_bytes = 0;  // memory.db
  std::int64_t wal_bytes = 0;   // memory.db-wal
  int schema_version = 0;
};

}  // namespace perdiem::memory
