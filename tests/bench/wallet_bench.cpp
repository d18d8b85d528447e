// wallet_bench: settled calls per second and the latency the wallet adds to a call.
//
// A call is what runtime/metering does around a model call: reserve the worst case (with
// an idempotency key and a run budget), then settle the real cost with a signed receipt.
// "bare" calls leave out the key and the run (each caller's own index entries are what
// make the metered call write more pages per commit).
// wallet.db is in WAL mode with synchronous=FULL, so every commit waits for the disk.
//   strict     the caller waits until the reserve and then the settle are durable.
//   pipelined  the caller waits until the reserve is durable (it may then send the call),
//              queues the settle (signed on its own thread) and goes on. The settle
//              commits with the caller's next operation or before; calls/s counts a call
//              only once its settlement is durable.
// "added" latency is the caller's time inside the wallet per call (the model's time is not
// counted). Saturated rows run callers in a closed loop with no model time, so their
// latency is mostly queueing: callers / throughput (Little's law). "~N ms model" rows
// sleep between reserve and settle, uniformly N/2..3N/2 ms, like a model call.
// All rows share one wallet, in the order printed, so later rows meet a larger wallet.db.
//
// tabs       (last) metering in memory through metering::Meter with MeterOptions::tabs, one
//            caller, against a provider that answers at once: the meter's time per call
//            (call time minus the provider's own), with the tab closes it triggers on the
//            caller's thread, and close_run's wait at the end, amortized.
//
// Usage: wallet_bench [calls_per_caller_for_64=400] [calls_for_1=2000] [only=SUBSTRING]
// (only: run just the scenarios whose name contains SUBSTRING, e.g. for a profiler)
// The database lives in $PERDIEM_BENCH_DIR (default /tmp), on the disk being measured.
// PERDIEM_BENCH_CHECKPOINTS=inline checkpoints the WAL inside commits, as SQLite's own
// auto-checkpoint does, instead of beside the writer (for comparison);
// PERDIEM_BENCH_CHECKPOINT_PAGES=N starts a checkpoint every N WAL pages (default 1000).
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "disk_probe.hpp"
#include "runtime/metering/meter.hpp"
#include "wallet/grants.hpp"
#include "wallet/keys.hpp"
#include "wallet/wallet.hpp"

using namespace perdiem;
using namespace perdiem::wallet;

namespace {

using Clock = std::chrono::steady_clock;
const Price kPrice{700'000'000, 2'800'000'000, 350'000'000, 0};

struct Scenario {
  const char* name;
  bool pipelined;
  int callers;
  std::size_t calls_each;
  int model_ms;  // mean simulated model call between reserve and settle; 0 = saturate
  bool bare = false;
};

struct Outcome {
  double seconds = 0;
  double cpu_seconds = 0;        // the whole process: callers, writer, everything
  std::vector<double> added_us;  // per call
  Wallet::WriterStats writer;    // during the scenario
};

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

double micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

[[noreturn]] void die(const char* what, const Error& error) {
  std::fprintf(stderr, "wallet_bench: %s: %s\n", what, error.message.c_str());
  std::exit(1);
}

// One caller's loop; appends the wallet's added latency of each call to `added`.
void caller(Wallet& wallet, const Scenario& s, const std::string& run, std::vector<double>& added) {
  Budgets budgets;
  if (!s.bare) {
    budgets.run = run;
    budgets.run_limit = 1'000'000 * kNanosPerUsd;
  }
  const Nanos worst = worst_case_cost(kPrice, 1200, 400).value();
  std::future<Result<Settlement>> pending;  // pipelined: the previous call's settle
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>()(run)));
  for (std::size_t i = 0; i < s.calls_each; ++i) {
    auto start = Clock::now();
    std::string key = s.bare ? std::string() : run + ":" + std::to_string(i);
    auto reserved = wallet.reserve(ReserveRequest{std::move(key), "venice", worst, budgets});
    auto reserved_at = Clock::now();
    if (!reserved) die("reserve", reserved.error());
    if (pending.valid()) {
      // Queued before this reserve, so already durable: get() does not wait.
      auto previous = pending.get();
      if (!previous) die("settle", previous.error());
    }
    if (s.model_ms > 0) {
      // Uniform in [mean/2, 3 mean/2]: callers drift apart, as real model calls do,
      // instead of arriving in lockstep waves.
      std::uniform_int_distribution<int> us(s.model_ms * 500, s.model_ms * 1500);
      std::this_thread::sleep_for(std::chrono::microseconds(us(rng)));
    }

    auto settle_start = Clock::now();
    Usage usage{1000 + static_cast<std::int64_t>(i % 100), 200, 0};
    CallRecord call{"llama-3.3-70b", static_cast<std::int64_t>(i), usage, kPrice, {}, {}};
    call.request_hash[0] = static_cast<std::uint8_t>(i);
    const Nanos cost = cost_of(kPrice, usage).value();
    if (s.pipelined) {
      pending = wallet.settle_async(*reserved, cost, call);
    } else {
      auto settled = wallet.settle(*reserved, cost, call);
      if (!settled) die("settle", settled.error());
    }
    added.push_back(micros(reserved_at - start) + micros(Clock::now() - settle_start));
  }
  if (pending.valid()) {
    auto last = pending.get();  // the clock runs until the last settlement is durable
    if (!last) die("settle", last.error());
  }
}

Outcome run(Wallet& wallet, const Scenario& s, int index) {
  std::vector<std::vector<double>> added(static_cast<std::size_t>(s.callers));
  auto before = wallet.writer_stats();
  const double cpu_start = process_cpu_seconds();
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < s.callers; ++c) {
    threads.emplace_back([&, c] {
      auto& mine = added[static_cast<std::size_t>(c)];
      mine.reserve(s.calls_each);
      caller(wallet, s, "bench-" + std::to_string(index) + "-" + std::to_string(c), mine);
    });
  }
  for (auto& t : threads) t.join();
  Outcome out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.cpu_seconds = process_cpu_seconds() - cpu_start;
  for (auto& a : added) out.added_us.insert(out.added_us.end(), a.begin(), a.end());
  auto after = wallet.writer_stats();
  out.writer.batches = after.batches - before.batches;
  out.writer.operations = after.operations - before.operations;
  out.writer.commits = after.commits.since(before.commits);
  out.writer.busy_us = after.busy_us - before.busy_us;
  out.writer.commit_us = after.commit_us - before.commit_us;
  out.writer.cpu_us = after.cpu_us - before.cpu_us;
  out.writer.wal_pages = after.wal_pages - before.wal_pages;
  out.writer.checkpoints = after.checkpoints - before.checkpoints;
  out.writer.checkpoint_us = after.checkpoint_us - before.checkpoint_us;
  out.writer.background_checkpoints = after.background_checkpoints - before.background_checkpoints;
  out.writer.background_checkpoint_us =
      after.background_checkpoint_us - before.background_checkpoint_us;
  return out;
}

const char* kHeader = "%-34s %8s %7s %7s %7s %6s %6s %6s %6s %6s %9s %9s\n";
const char* kRow =
    "%-34s %8.0f %7.0f %7.0f %7zu %6.1f %6.1f %6.0f %6.1f %6.1f %4llu/%-4.0f %4llu/%-4.0f\n";

void report(const Scenario& s, Outcome& o) {
  const auto& w = o.writer;
  const double calls = static_cast<double>(o.added_us.size());
  const double batches = static_cast<double>(w.batches ? w.batches : 1);
  std::printf(kRow, s.name, calls / o.seconds, percentile(o.added_us, 0.50),
              percentile(o.added_us, 0.99), w.batches,
              static_cast<double>(w.operations) / batches,
              static_cast<double>(w.wal_pages) / batches,
              static_cast<double>(w.commit_us) / batches, o.cpu_seconds * 1e6 / calls,
              static_cast<double>(w.cpu_us) / calls,
              static_cast<unsigned long long>(w.checkpoints),
              static_cast<double>(w.checkpoint_us) / 1000.0,
              static_cast<unsigned long long>(w.background_checkpoints),
              static_cast<double>(w.background_checkpoint_us) / 1000.0);
  std::fflush(stdout);
}

}  // namespace

// Answers at once with fixed usage, as the in-process sim does.
class InstantProvider final : public providers::Provider {
 public:
  const std::string& name() const override { return name_; }
  Result<providers::ChatResponse> chat(const providers::ChatRequest& request) override {
    providers::ChatResponse r;
    r.content = "ok";
    r.model = request.model;
    r.provider = name_;
    r.usage = {20, 50};
    return r;
  }
  Result<providers::EmbedResponse> embed(const providers::EmbedRequest&) override {
    return make_error(ErrorKind::internal, "not used");
  }

 private:
  std::string name_ = "venice";
};

void tab_calls(Wallet& wallet, std::size_t calls, bool one_tab) {
  auto prices = PriceSheet::from_json_text(
      R"({"prices":[{"provider":"venice","model":"llama","input":"0.7","output":"2.8"}]})");
  if (!prices) die("prices", prices.error());
  metering::MeterOptions options;
  options.tabs = true;
  if (one_tab) {
    options.tab.max_calls = 1 << 30;
    options.tab.max_age = std::chrono::hours(1);
  }
  metering::Meter meter(wallet, *prices, options);
  InstantProvider provider;
  providers::ChatRequest request;
  request.model = "llama";
  request.messages = {{"user", "hello"}};
  request.max_tokens = 100;
  const std::string run = one_tab ? "one-tab" : "tabs";
  auto provider_start = Clock::now();
  for (std::size_t i = 0; i < calls; ++i) (void)provider.chat(request);
  const double provider_us = micros(Clock::now() - provider_start) / static_cast<double>(calls);
  const double cpu_before = process_cpu_seconds();
  auto start = Clock::now();
  for (std::size_t i = 0; i < calls; ++i) {
    auto metered = meter.chat(provider, request,
                              metering::CallContext{run, static_cast<std::int64_t>(i) + 1, {}});
    if (!metered) die("tab call", metered.error());
  }
  const double calls_us = micros(Clock::now() - start);
  Status closed = meter.close_run(run);
  if (!closed.ok()) die("close_run", closed.error());
  const double total_us = micros(Clock::now() - start);
  const double cpu_us = (process_cpu_seconds() - cpu_before) * 1e6;
  const double n = static_cast<double>(calls);
  std::printf("tabs       1 caller, %s, %zu calls: %.0f calls/s; meter %.2f us per call on the "
              "caller's thread (%.2f with close_run's wait), provider %.2f us; process cpu "
              "%.2f us per call\n",
              one_tab ? "one tab closed at the end" : "default tabs", calls, n / (total_us / 1e6), calls_us / n - provider_us, total_us / n - provider_us,
              provider_us, cpu_us / n);
}

int main(int argc, char** argv) {
  std::size_t calls_64 = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 400;
  std::size_t calls_1 = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2000;
  const std::string only = argc > 3 ? argv[3] : "";
  const char* base_dir = std::getenv("PERDIEM_BENCH_DIR");
  std::string tmpl = std::string(base_dir ? base_dir : "/tmp") + "/perdiem-wallet-bench-XXXXXX";
  if (!::mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;

  auto issuer = PrivateKey::generate();
  auto signer = std::make_shared<const PrivateKey>(PrivateKey::generate());
  WalletOptions options;
  options.signer = signer;
  options.trusted_issuers = {issuer.address()};
  if (const char* mode = std::getenv("PERDIEM_BENCH_CHECKPOINTS"); mode && std::string(mode) == "inline")
    options.wal_restart_pages = 0;
  if (const char* pages = std::getenv("PERDIEM_BENCH_CHECKPOINT_PAGES"))
    options.checkpoint_pages = std::atoi(pages);
  auto opened = Wallet::open(dir + "/wallet.db", base::system_clock(), options);
  if (!opened) die("open", opened.error());
  auto& wallet = *opened.value();
  Grant grant;
  grant.holder = signer->address();
  grant.kind = GrantKind::usd;
  grant.amount = 1'000'000 * kNanosPerUsd;
  grant.nonce = "bench";
  auto accepted = wallet.accept_grant(grant_to_json(sign_grant(grant, issuer)));
  if (!accepted) die("grant", accepted.error());

  std::printf("wallet_bench: reserve + settle + signed receipt per call, wallet.db in WAL with "
              "synchronous=FULL in %s\n"
              "strict: the caller waits for its reserve, then its settle, to be durable;\n"
              "pipelined: it waits for the reserve only and queues the settle (counted in "
              "calls/s once durable).\nLatency: the caller's time in the wallet per call, "
              "model time excluded.\n", dir.c_str());
  auto disk = bench::probe_disk(dir, 200);
  if (disk.error.empty())
    std::printf("disk: 4 KiB + fdatasync: append p50 %.0f us p99 %.0f us, "
                "in place p50 %.0f us p99 %.0f us\n",
                disk.append_p50_us, disk.append_p99_us, disk.overwrite_p50_us,
                disk.overwrite_p99_us);
  else
    std::printf("disk: %s\n", disk.error.c_str());
  std::printf(kHeader, "scenario (latency: added by wallet)", "calls/s", "p50 us", "p99 us",
              "batches", "ops/b", "pages", "commit", "cpu", "writer", "ckpt/ms", "bg/ms");

  const std::size_t calls_model = std::max<std::size_t>(1, calls_64 / 4);
  const Scenario scenarios[] = {
      {"strict     1 caller", false, 1, calls_1, 0},
      {"pipelined  1 caller", true, 1, calls_1, 0},
      {"strict    64 callers, saturated", false, 64, calls_64, 0},
      {"pipelined 64 callers, saturated", true, 64, calls_64, 0},
      {"strict    64 callers, bare calls", false, 64, calls_64, 0, true},
      {"pipelined 64 callers, bare calls", true, 64, calls_64, 0, true},
      {"strict    64 callers, ~10 ms model", false, 64, calls_model, 10},
      {"pipelined 64 callers, ~10 ms model", true, 64, calls_model, 10},
      {"strict    64 callers, ~100 ms model", false, 64, calls_model / 5, 100},
      {"pipelined 64 callers, ~100 ms model", true, 64, calls_model / 5, 100},
  };
  int index = 0;
  for (const auto& s : scenarios) {
    if (s.calls_each == 0 || std::string(s.name).find(only) == std::string::npos) continue;
    Outcome o = run(wallet, s, index++);
    report(s, o);
  }
  if (std::string("tabs").find(only) != std::string::npos || only.empty()) {
    tab_calls(wallet, calls_1 * 50, false);
    tab_calls(wallet, calls_1 * 50, true);
  }
  std::printf(
      "batches: group commits; ops/b: operations per commit; pages: WAL pages per commit;\n"
      "commit: average COMMIT time in us (WAL write + fsync + any checkpoint it ran); cpu,\n"
      "writer: CPU us per call of the whole process and of the writer thread alone;\n"
      "ckpt/ms: WAL checkpoints the writer ran or finished inside a COMMIT, total ms;\n"
      "bg/ms: checkpoint rounds run beside the writer, total ms.\n");
  auto verified = wallet.verify();
  std::printf("verify: %s\n", verified && verified->ok ? "ok" : "FAILED");
  opened.value().reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return verified && verified->ok ? 0 : 1;
}
