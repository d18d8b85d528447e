// wallet_bench: settled calls per second (reserve + settle + signed receipt, durable:
// wallet.db in WAL with synchronous=FULL) for 1 caller and for 64 concurrent callers, and
// the latency the wallet adds to one call (reserve + settle, as the caller waits for it).
//
// Usage: wallet_bench [calls_per_caller_for_64=400] [calls_for_1=2000]
// The database lives in $PERDIEM_BENCH_DIR (default /tmp), on the disk being measured.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "wallet/grants.hpp"
#include "wallet/keys.hpp"
#include "wallet/wallet.hpp"

using namespace perdiem;
using namespace perdiem::wallet;

namespace {

using Clock = std::chrono::steady_clock;

struct Outcome {
  double seconds = 0;
  std::size_t calls = 0;
  std::vector<double> latencies_us;
  Wallet::WriterStats writer;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  std::size_t i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  return v[i];
}

bool one_call(Wallet& wallet, const Price& price, std::uint64_t n, std::vector<double>& lat) {
  auto start = Clock::now();
  Usage usage{1000 + static_cast<std::int64_t>(n % 100), 200, 0};
  auto reserved = wallet.reserve(ReserveRequest{"", "venice", worst_case_cost(price, 1200, 400).value(), {}});
  if (!reserved.ok()) {
    std::fprintf(stderr, "reserve: %s\n", reserved.error().message.c_str());
    return false;
  }
  CallRecord call{"llama-3.3-70b", static_cast<std::int64_t>(n), usage, price, {}, {}};
  call.request_hash[0] = static_cast<std::uint8_t>(n);
  auto settled = wallet.settle(*reserved, cost_of(price, usage).value(), call);
  if (!settled.ok()) {
    std::fprintf(stderr, "settle: %s\n", settled.error().message.c_str());
    return false;
  }
  lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  return true;
}

Outcome run(Wallet& wallet, int callers, std::size_t calls_each) {
  const Price price{700'000'000, 2'800'000'000, 350'000'000, 0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(callers));
  auto before = wallet.writer_stats();
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < callers; ++c) {
    threads.emplace_back([&, c] {
      auto& mine = lat[static_cast<std::size_t>(c)];
      mine.reserve(calls_each);
      for (std::size_t i = 0; i < calls_each; ++i)
        if (!one_call(wallet, price, i, mine)) std::exit(1);
    });
  }
  for (auto& t : threads) t.join();
  Outcome out;
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& l : lat) out.latencies_us.insert(out.latencies_us.end(), l.begin(), l.end());
  out.calls = out.latencies_us.size();
  auto after = wallet.writer_stats();
  out.writer.batches = after.batches - before.batches;
  out.writer.operations = after.operations - before.operations;
  out.writer.busy_us = after.busy_us - before.busy_us;
  out.writer.commit_us = after.commit_us - before.commit_us;
  return out;
}

void report(const char* name, const Outcome& o) {
  const auto& w = o.writer;
  double batches = static_cast<double>(w.batches ? w.batches : 1);
  std::printf("%-12s %8zu calls  %9.0f settled calls/s  per call: p50 %6.0f us  p99 %6.0f us\n"
              "%-12s writer: %.1f ops/commit, %.0f us/commit (%.0f us in COMMIT), busy %.0f%%\n",
              name, o.calls, static_cast<double>(o.calls) / o.seconds,
              percentile(o.latencies_us, 0.50), percentile(o.latencies_us, 0.99), "",
              static_cast<double>(w.operations) / batches, static_cast<double>(w.busy_us) / batches,
              static_cast<double>(w.commit_us) / batches,
              100.0 * static_cast<double>(w.busy_us) / (o.seconds * 1e6));
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t calls_64 = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 400;
  std::size_t calls_1 = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2000;
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
  auto opened = Wallet::open(dir + "/wallet.db", base::system_clock(), options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& wallet = *opened.value();
  Grant grant;
  grant.holder = signer->address();
  grant.kind = GrantKind::usd;
  grant.amount = 1'000'000 * kNanosPerUsd;
  grant.nonce = "bench";
  if (!wallet.accept_grant(grant_to_json(sign_grant(grant, issuer))).ok()) return 1;

  std::printf("wallet_bench: reserve + settle + signed receipt per call; wallet.db WAL, "
              "synchronous=FULL, in %s\n", dir.c_str());
  Outcome single = run(wallet, 1, calls_1);
  report("1 caller", single);
  Outcome many = run(wallet, 64, calls_64);
  report("64 callers", many);
  auto verified = wallet.verify();
  std::printf("verify: %s\n", verified.ok() && verified->ok ? "ok" : "FAILED");
  opened.value().reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return verified.ok() && verified->ok ? 0 : 1;
}
