// A child process is SIGKILLed at random points while it reserves and settles. Each time
// the wallet reopens, verify passes and no reservation is forgotten (none stays open).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include <doctest/doctest.h>

#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

[[noreturn]] void work_until_killed(const WalletFixture& f, int ready_fd, unsigned seed) {
  base::ManualClock clock(f.clock.now_unix_ms());
  auto opened = Wallet::open(f.db_path, clock, f.options());
  if (!opened.ok()) ::_exit(2);
  auto& wallet = *opened.value();
  char byte = 1;
  if (::write(ready_fd, &byte, 1) != 1) ::_exit(3);
  std::mt19937 rng(seed);
  Budgets b;
  b.run = "crash-run";
  b.run_limit = usd("1000");
  for (std::uint64_t i = 0;; ++i) {
    std::vector<std::future<Result<Reservation>>> pending;
    for (int k = 0; k < 4; ++k)
      pending.push_back(wallet.reserve_async(ReserveRequest{"", "venice", usd("0.01"), b}));
    for (auto& p : pending) {
      auto r = p.get();
      if (!r.ok()) ::_exit(4);
      if (rng() % 5 == 0) (void)wallet.release(r->id);
      else (void)wallet.settle_async(*r, usd("0.005"), CallRecord{});
    }
  }
}

}  // namespace

TEST_CASE("SIGKILL during reserve/settle: reopening recovers and verifies") {
  WalletFixture f;
  f.fund_usd("1000");
  f.stake("1");
  f.close();
  std::mt19937 rng(12345);
  int recovered_total = 0;
  for (int iteration = 0; iteration < 30; ++iteration) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      work_until_killed(f, fds[1], static_cast<unsigned>(iteration));
    }
    ::close(fds[1]);
    char byte = 0;
    REQUIRE(::read(fds[0], &byte, 1) == 1);  // the child's wallet is open and working
    ::close(fds[0]);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 4000));
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFSIGNALED(status));

    f.open();
    auto pending = f.wallet->unreconciled().value();
    recovered_total = static_cast<int>(pending.size());
    auto b = f.balance();
    CHECK(b.reserved == 0);  // nothing left open
    auto report = f.wallet->verify().value();
    REQUIRE_MESSAGE(report.ok, "iteration ", iteration, ": ", report.problem);
    CHECK(f.wallet->spent("crash-run").value() <= usd("1000"));
    f.close();
  }
  MESSAGE("unreconciled reservations after 30 kills: " << recovered_total);
  CHECK(recovered_total > 0);  // some kills landed with reservations open
}
