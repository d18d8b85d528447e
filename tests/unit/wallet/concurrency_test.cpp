// 8 threads in each of 2 processes reserve and settle against one run budget on one
// wallet.db. The total settled never exceeds the budget, and verify passes.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include <doctest/doctest.h>

#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

constexpr int kThreads = 8;
constexpr const char* kRun = "shared-run";

// Returns 0 on success; runs in each process. Stops each thread once the budget refuses.
int hammer(const WalletFixture& f, Nanos budget, Nanos worst, unsigned seed) {
  base::ManualClock clock(f.clock.now_unix_ms());
  auto opened = Wallet::open(f.db_path, clock, f.options());
  if (!opened.ok()) return 2;
  auto& wallet = *opened.value();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 100 + t);
      Budgets b;
      b.run = kRun;
      b.run_limit = budget;
      for (;;) {
        auto r = wallet.reserve(ReserveRequest{"", "venice", worst, b});
        if (!r.ok()) {
          if (r.error().kind != ErrorKind::budget_exceeded) ++failures;
          return;
        }
        Nanos cost = static_cast<Nanos>(rng() % static_cast<std::uint64_t>(worst + 1));
        if (rng() % 10 == 0) {
          if (!wallet.release(r->id).ok()) ++failures;
        } else if (!wallet.settle(*r, cost, CallRecord{}).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return failures.load() == 0 ? 0 : 3;
}

}  // namespace

TEST_CASE("two processes x 8 threads never overspend one budget") {
  WalletFixture f;
  f.fund_usd("1000");
  f.close();  // nothing open (no threads) across fork
  const Nanos budget = usd("0.5");
  const Nanos worst = usd("0.004");

  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(hammer(f, budget, worst, 2));
  int mine = hammer(f, budget, worst, 1);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(mine == 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);

  f.open();
  Nanos spent = f.wallet->spent(kRun).value();
  CHECK(spent <= budget);
  CHECK(spent > 0);
  Nanos receipts_total = 0;
  auto receipts = f.wallet->receipts(kRun).value();
  for (const auto& r : receipts) receipts_total += r.cost;
  CHECK(receipts_total == spent);
  CHECK(f.balance().usd == usd("1000") - spent);
  CHECK(f.balance().reserved == 0);
  f.require_verified();
}
