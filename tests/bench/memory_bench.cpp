// memory_bench: what the memory store costs an agent.
//   ingest      remember() of 10-chunk documents (each chunk one ~900-byte paragraph),
//               with and without 384-d embeddings (a cheap deterministic embedder stands
//               in for the model, whose time is not the store's).
//   recall      p50/p95/p99 over 100,000 chunks: text (FTS5 bm25), vector (brute-force
//               cosine, 384 dims), hybrid (both, fused). Queries are 3 words drawn from
//               the corpus's Zipf-distributed vocabulary, k=10.
//   trace       record_step() of a ~600-byte model request/response: the caller's time
//               per step, and the amortised cost (wall time until flush() returns / steps)
//               from 1 and 8 recording threads.
// Files live in a mkdtemp directory under $PERDIEM_BENCH_DIR (default /tmp), removed at
// exit. Usage: memory_bench [chunks=100000] [only=ingest|recall|trace]
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "runtime/memory/memory_store.hpp"

using namespace perdiem;
using namespace perdiem::memory;

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kDim = 384;
constexpr int kChunksPerDoc = 10;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The scratch directory, removed at exit however the bench ends (die() calls exit()).
std::filesystem::path g_dir;
void remove_scratch() {
  std::error_code ec;
  if (!g_dir.empty()) std::filesystem::remove_all(g_dir, ec);
}

[[noreturn]] void die(const char* what, const Error& error) {
  std::fprintf(stderr, "memory_bench: %s: %s\n", what, error.describe().c_str());
  std::exit(1);
}

// Pseudo-words with Zipf frequencies: a few very common, most rare, like real text.
class Corpus {
 public:
  explicit Corpus(std::size_t vocabulary) : rng_(42) {
    static const char* kSyll[] = {"ka", "lo",  "mi",  "ren", "to",  "sa", "vi", "der", "nu",
                                  "pe", "qua", "zor", "bel", "fin", "go", "hu", "jas", "wex"};
    std::mt19937 g(7);
    for (std::size_t i = 0; i < vocabulary; ++i) {
      std::string w;
      int n = 2 + static_cast<int>(g() % 3);
      for (int s = 0; s < n; ++s) w += kSyll[g() % std::size(kSyll)];
      words_.push_back(w + std::to_string(i % 97));
    }
    std::vector<double> weights(vocabulary);
    for (std::size_t i = 0; i < vocabulary; ++i) weights[i] = 1.0 / static_cast<double>(i + 1);
    zipf_ = std::discrete_distribution<std::size_t>(weights.begin(), weights.end());
  }
  const std::string& word() { return words_[zipf_(rng_)]; }
  std::string paragraph(std::size_t bytes) {
    std::string p;
    while (p.size() < bytes) {
      p += word();
      p += (rng_() % 12 == 0) ? ". " : " ";
    }
    return p;
  }
  std::string query() { return word() + " " + word() + " " + word(); }

 private:
  std::mt19937 rng_;
  std::vector<std::string> words_;
  std::discrete_distribution<std::size_t> zipf_;
};

std::vector<float> hashed_embedding(const std::string& text) {
  std::vector<float> v(kDim, 0.0f);
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = start; i < end; ++i)
      h = (h ^ static_cast<unsigned char>(text[i])) * 1099511628211ull;
    v[h % kDim] += 1.0f;
    v[(h >> 20) % kDim] += 0.5f;
    start = end + 1;
  }
  return v;
}

EmbeddingModel bench_model() {
  return {"bench/hashed", kDim,
          [](const std::vector<std::string>& texts) -> Result<std::vector<std::vector<float>>> {
            std::vector<std::vector<float>> out;
            for (const auto& t : texts) out.push_back(hashed_embedding(t));
            return out;
          }};
}

struct Percentiles {
  double p50, p95, p99;
};
Percentiles percentiles(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()))];
  };
  return {at(0.50), at(0.95), at(0.99)};
}

const char* verdict(double value, double target, bool at_most) {
  return (at_most ? value <= target : value >= target) ? "ok" : "MISSED";
}

std::unique_ptr<MemoryStore> open_or_die(const std::string& path) {
  auto store = MemoryStore::open(path);
  if (!store) die("open", store.error());
  return std::move(store).value();
}

// The process's CPU time (every thread), in seconds: the machine may be shared, so rates
// are also given per CPU-second, which other processes cannot slow down.
double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

struct Rate {
  double per_second;      // wall clock
  double per_cpu_second;  // CPU time of all threads
};

// Ingests `chunks` chunks, `docs_per_call` 10-chunk documents per call.
Rate ingest(MemoryStore& store, Corpus& corpus, std::size_t chunks, const EmbeddingModel* model,
            std::size_t docs_per_call, std::size_t chunk_bytes = 900) {
  RememberOptions options;
  options.ns = "bench";
  options.source = "bench";
  options.embedding = model;
  options.chunking.max_bytes = chunk_bytes + chunk_bytes / 2;  // one paragraph per chunk
  double generate = 0;  // time spent making the corpus, not the store's
  auto start = Clock::now();
  double cpu_start = cpu_seconds();
  for (std::size_t done = 0; done < chunks; done += kChunksPerDoc * docs_per_call) {
    auto gen_start = Clock::now();
    std::vector<std::string> docs;
    for (std::size_t d = 0; d < docs_per_call; ++d) {
      std::string doc;
      for (int c = 0; c < kChunksPerDoc; ++c) doc += corpus.paragraph(chunk_bytes) + "\n\n";
      docs.push_back(std::move(doc));
    }
    std::vector<std::string_view> views(docs.begin(), docs.end());
    generate += seconds_since(gen_start);
    auto r = store.remember_many(views, options);
    if (!r) die("remember", r.error());
    for (const auto& one : *r) {
      if (one.chunk_ids.size() != kChunksPerDoc) {
        std::fprintf(stderr, "memory_bench: expected %d chunks per document, got %zu\n",
                     kChunksPerDoc, one.chunk_ids.size());
        std::exit(1);
      }
    }
  }
  double wall = seconds_since(start) - generate;
  double cpu = cpu_seconds() - cpu_start - generate;
  return {static_cast<double>(chunks) / wall, static_cast<double>(chunks) / cpu};
}

Percentiles time_recall(MemoryStore& store, Corpus& corpus, RecallMode mode,
                        const EmbeddingModel& model, int queries, double* hits_avg) {
  std::vector<double> us;
  std::size_t hits = 0;
  RecallOptions options;
  options.k = 10;
  options.mode = mode;
  options.embedding = &model;
  for (int i = 0; i < queries; ++i) {
    std::string q = corpus.query();
    auto start = Clock::now();
    auto r = store.recall(q, options);
    us.push_back(seconds_since(start) * 1e6);
    if (!r) die("recall", r.error());
    hits += r->size();
  }
  *hits_avg = static_cast<double>(hits) / queries;
  return percentiles(us);
}

struct TraceResult {
  double caller_us;     // mean time inside record_step
  double amortised_us;  // wall time until durable / steps
  double cpu_us;        // CPU time of every thread (callers and writer) / steps
};

TraceResult time_traces(MemoryStore& store, int threads, int steps_each) {
  nlohmann::json request = {
      {"model", "meta-llama/llama-3.3-70b-instruct"},
      {"temperature", 0.2},
      {"messages",
       {{{"role", "system"}, {"content", "You are a careful research agent. Cite sources."}},
        {{"role", "user"}, {"content", std::string(300, 'q')}}}}};
  nlohmann::json response = {{"content", std::string(200, 'a')}, {"finish_reason", "stop"}};
  std::vector<double> caller_seconds(static_cast<std::size_t>(threads));
  auto start = Clock::now();
  double cpu_start = cpu_seconds();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      auto run = store.begin_run(RunRecord{"", "bench", "bench.lua", "", {}, 0});
      if (!run) die("begin_run", run.error());
      StepRecord step;
      step.run_id = *run;
      step.kind = "model";
      step.provider = "venice";
      step.model = "llama-3.3-70b";
      step.response = response;
      auto t0 = Clock::now();
      for (int i = 0; i < steps_each; ++i) {
        step.request = request;
        step.request["seed"] = i;
        step.latency_ms = 800;
        step.input_tokens = 120;
        step.output_tokens = 60;
        step.cost_nanos = 91'000;
        auto r = store.record_step(step);
        if (!r) die("record_step", r.error());
      }
      caller_seconds[static_cast<std::size_t>(t)] = seconds_since(t0);
      if (!store.end_run(*run, RunEnd{}).ok()) std::exit(1);
    });
  }
  for (auto& th : pool) th.join();
  Status flushed = store.flush();
  if (!flushed.ok()) die("flush", flushed.error());
  double wall = seconds_since(start);
  double cpu = cpu_seconds() - cpu_start;
  double caller = 0;
  for (double s : caller_seconds) caller += s;
  double total = static_cast<double>(threads) * steps_each;
  return {caller / total * 1e6, wall / total * 1e6, cpu / total * 1e6};
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t chunks = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  chunks = std::max<std::size_t>(chunks - chunks % kChunksPerDoc, kChunksPerDoc);
  const std::string only = argc > 2 ? argv[2] : "";
  const char* base = std::getenv("PERDIEM_BENCH_DIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/perdiem-memory-bench-XXXXXX";
  if (!::mkdtemp(pattern.data())) {
    std::perror("memory_bench: mkdtemp");
    return 1;
  }
  const std::filesystem::path dir = pattern;
  g_dir = dir;
  std::atexit(remove_scratch);

  Corpus corpus(30000);
  EmbeddingModel model = bench_model();
  std::printf(
      "memory_bench: memory.db in WAL, synchronous=NORMAL; %zu chunks of ~900 bytes, "
      "%zu-d float32 embeddings\n",
      chunks, kDim);
  const char* kHeader = "%-44s %12s %10s %10s %10s  %s\n";
  const char* kRow = "%-44s %12s %10.1f %10.1f %10.1f  %s\n";
  std::printf(kHeader, "measure", "rate", "p50", "p95", "p99", "target");

  char buf[64];
  auto print_ingest = [&](const char* name, Rate r) {
    std::snprintf(buf, sizeof buf, "%.0f/s", r.per_second);
    std::printf("%-44s %12s %10s %10s %10s  >= 20000/s %s (%.0f per CPU-second)\n", name, buf, "-",
                "-", "-", verdict(r.per_second, 20000, false), r.per_cpu_second);
  };
  // Text-only ingest, in its own file so it does not also pay for embeddings.
  if (only.empty() || only == "ingest") {
    auto text_store = open_or_die((dir / "text.db").string());
    std::size_t n = std::min<std::size_t>(chunks, 50000);
    print_ingest("ingest, remember() 1 doc/call, text only",
                 ingest(*text_store, corpus, std::min<std::size_t>(n, 5000), nullptr, 1));
    print_ingest("ingest, remember_many() 100 docs, text only",
                 ingest(*text_store, corpus, n, nullptr, 100));
    // The rate is per chunk, so it depends on chunk size: FTS5 indexes tokens.
    auto small_store = open_or_die((dir / "small.db").string());
    print_ingest("  same, ~400-byte chunks", ingest(*small_store, corpus, n, nullptr, 100, 400));
  }

  auto store = open_or_die((dir / "memory.db").string());
  if (only.empty() || only == "recall")
    print_ingest("ingest, remember_many(), text + 384-d vector",
                 ingest(*store, corpus, chunks, &model, 100));

  if (only == "ingest") return 0;
  double hits = 0;
  if (only.empty() || only == "recall") {
    (void)time_recall(*store, corpus, RecallMode::text, model, 20, &hits);  // warm the cache
    auto text = time_recall(*store, corpus, RecallMode::text, model, 300, &hits);
    std::snprintf(buf, sizeof buf, "%.1f hits", hits);
    std::printf(kRow, "recall text (FTS5 bm25), ms", buf, text.p50 / 1000, text.p95 / 1000,
                text.p99 / 1000,
                (std::string("p50 <= 5 ms ") + verdict(text.p50 / 1000, 5, true)).c_str());

    auto load_start = Clock::now();
    (void)time_recall(*store, corpus, RecallMode::vector, model, 1, &hits);  // loads the index
    double load_ms = seconds_since(load_start) * 1000;
    auto vec = time_recall(*store, corpus, RecallMode::vector, model, 100, &hits);
    std::snprintf(buf, sizeof buf, "%.1f hits", hits);
    std::printf(kRow, "recall vector (cosine, brute force), ms", buf, vec.p50 / 1000,
                vec.p95 / 1000, vec.p99 / 1000,
                (std::string("p50 <= 20 ms ") + verdict(vec.p50 / 1000, 20, true)).c_str());
    auto hyb = time_recall(*store, corpus, RecallMode::hybrid, model, 100, &hits);
    std::snprintf(buf, sizeof buf, "%.1f hits", hits);
    std::printf(kRow, "recall hybrid (RRF of both, depth 50), ms", buf, hyb.p50 / 1000,
                hyb.p95 / 1000, hyb.p99 / 1000, "-");
    std::printf("%-44s %12s %10.0f ms (first vector query, once per process)\n",
                "vector index load", "", load_ms);
  }
  for (int threads : {1, 8}) {
    if (!only.empty() && only != "trace") break;
    int steps_each = 200000 / threads;
    auto t = time_traces(*store, threads, steps_each);
    char name[64];
    std::snprintf(name, sizeof name, "trace step, %d recording thread%s, us", threads,
                  threads > 1 ? "s" : "");
    std::snprintf(buf, sizeof buf, "%.0f/s", 1e6 / t.amortised_us);
    std::printf("%-44s %12s  amortised %.1f us (CPU %.1f us, caller %.1f us)  <= 20 us %s\n", name,
                buf, t.amortised_us, t.cpu_us, t.caller_us, verdict(t.amortised_us, 20, true));
  }
  auto stats = store->stats();
  if (stats) {
    std::printf("memory.db: %.0f MB (+ %.0f MB WAL), %lld chunks, %lld embeddings, %lld steps\n",
                static_cast<double>(stats->file_bytes) / 1e6,
                static_cast<double>(stats->wal_bytes) / 1e6, static_cast<long long>(stats->chunks),
                static_cast<long long>(stats->embeddings), static_cast<long long>(stats->steps));
  }
  return 0;
}
