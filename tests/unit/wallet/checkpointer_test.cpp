// WAL checkpoints beside the writer: the WAL keeps restarting (its file stays small) and
// the ledger stays whole, with the writer finishing only one checkpoint per restart.
#include <filesystem>

#include <doctest/doctest.h>

#include "wallet_fixture.hpp"

using namespace perdiem;
using namespace perdiem::wallet;
using namespace perdiem::wallet::testing;

namespace {

// Runs `calls` reserve + settle pairs on a wallet opened with `options`.
Wallet::WriterStats run_calls(WalletFixture& f, WalletOptions options, int calls) {
  f.close();
  auto opened = Wallet::open(f.db_path, f.clock, options);
  REQUIRE(opened.ok());
  auto& w = **opened;
  for (int i = 0; i < calls; ++i) {
    auto r = w.reserve(ReserveRequest{"", "venice", usd("0.01"), {}});
    REQUIRE(r.ok());
    REQUIRE(w.settle(*r, usd("0.005"), CallRecord{"m", i, {}, {}, {}, {}}).ok());
  }
  return w.writer_stats();
}

std::uintmax_t wal_bytes(const WalletFixture& f) {
  std::error_code ec;
  auto size = std::filesystem::file_size(f.db_path + "-wal", ec);
  return ec ? 0 : size;
}

}  // namespace

TEST_CASE("background checkpoints keep the WAL short and the ledger whole") {
  WalletFixture f;
  f.fund_usd("100");
  WalletOptions options = f.options();
  options.checkpoint_pages = 20;
  options.wal_restart_pages = 60;
  auto stats = run_calls(f, options, 400);  // ~2800 WAL pages without restarts
  CHECK(stats.background_checkpoints > 0);
  CHECK(stats.checkpoints > 0);  // finished by the writer, once per restart
  CHECK(stats.checkpoints <= stats.background_checkpoints);
  CHECK(stats.wal_pages > 1000);
  CHECK(wal_bytes(f) < 200 * 4120);  // restarted, not grown to ~11 MB
  f.open();
  f.require_verified();
  CHECK(f.wallet->receipts().value().size() == 400);
}

TEST_CASE("inline checkpoints, as SQLite's auto-checkpoint") {
  WalletFixture f;
  f.fund_usd("100");
  WalletOptions options = f.options();
  options.checkpoint_pages = 20;
  options.wal_restart_pages = 0;
  auto stats = run_calls(f, options, 200);
  CHECK(stats.background_checkpoints == 0);
  CHECK(stats.checkpoints > 0);
  CHECK(wal_bytes(f) < 200 * 4120);
  f.open();
  f.require_verified();
}
