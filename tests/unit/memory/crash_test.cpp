// A child process records steps in a loop and is SIGKILLed at random moments, 20 times.
// Each time the store reopens intact (integrity_check ok), every run's steps are a
// gap-free prefix 0..n-1 (batches commit whole and in order), and nothing the child
// had flushed before the kill is lost.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include <doctest/doctest.h>

#include "memory_fixture.hpp"
#include "runtime/memory/sql.hpp"

using namespace perdiem;
using namespace perdiem::memory;
using namespace perdiem::memory::testing;

namespace {

// Writes "run-id seq\n" to `fd` after each flush: the child's proof of durability.
[[noreturn]] void record_until_killed(const std::string& path, int fd, int iteration) {
  auto opened = MemoryStore::open(path);
  if (!opened.ok()) ::_exit(2);
  auto& store = *opened.value();
  std::string run = "run-crash-" + std::to_string(iteration);
  if (!store.begin_run(run_record("crasher", nlohmann::json::object(), run)).ok()) ::_exit(3);
  std::mt19937 rng(static_cast<unsigned>(iteration));
  std::string payload(200 + rng() % 2000, 'x');
  bool announced = false;
  for (std::int64_t i = 0;; ++i) {
    StepRecord step;
    step.run_id = run;
    step.kind = "model";
    step.request = {{"i", i}, {"payload", payload}};
    step.response = {{"ok", true}};
    auto seq = store.record_step(step);
    if (!seq.ok() || *seq != i) ::_exit(4);
    if (rng() % 64 == 0 || !announced) {
      if (!store.flush().ok()) ::_exit(5);
      std::string line = std::to_string(i) + "\n";
      if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(6);
      announced = true;
    }
  }
}

// The last complete line the child wrote: the highest seq it knew was durable.
std::int64_t last_flushed(int fd, char first) {
  std::string all(1, first);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;)
    all.append(buf, static_cast<std::size_t>(n));
  std::int64_t last = -1;
  std::size_t start = 0;
  for (std::size_t nl = all.find('\n'); nl != std::string::npos; nl = all.find('\n', start)) {
    last = std::stoll(all.substr(start, nl - start));
    start = nl + 1;
  }
  return last;
}

void check_intact(const std::string& path, int iteration, std::int64_t flushed) {
  {
    auto db = sql::Db::open(path, "memory.db", 5000);
    REQUIRE(db.ok());
    auto check = (*db)->cached("PRAGMA integrity_check");
    REQUIRE(check.ok());
    REQUIRE((*check)->step().value());
    CHECK_MESSAGE((*check)->column_text(0) == "ok", "iteration ", iteration);
    (*check)->reset();
    auto fts = (*db)->exec("INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')");
    CHECK(fts.ok());
  }
  auto store = open_store(path);
  for (int run = 0; run <= iteration; ++run) {
    auto detail = store->get_run("run-crash-" + std::to_string(run));
    REQUIRE_MESSAGE(detail.ok(), "iteration ", iteration, " run ", run);
    const auto& steps = detail->steps;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      REQUIRE_MESSAGE(steps[i].seq == static_cast<std::int64_t>(i), "a gap in run ", run);
      REQUIRE(steps[i].request["i"] == steps[i].seq);
    }
    if (run == iteration) {
      auto kept = static_cast<std::int64_t>(steps.size());
      CHECK_MESSAGE(kept >= flushed + 1, "iteration ", iteration, ": flushed ", flushed,
                    " but only ", kept, " steps survived");
    }
  }
  // The store still works after the crash.
  REQUIRE(store->append_message("after-crash", "user", "still here").ok());
}

}  // namespace

TEST_CASE("SIGKILL while recording steps: memory.db reopens intact, 20 times") {
  TempDir dir;
  std::string path = dir.file("memory.db");
  { auto store = open_store(path); }
  std::mt19937 rng(20261126);
  for (int iteration = 0; iteration < 20; ++iteration) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      ::close(fds[0]);
      record_until_killed(path, fds[1], iteration);
    }
    ::close(fds[1]);
    // Wait for the first durable step, then let it run a random while before the kill.
    char first = 0;
    REQUIRE(::read(fds[0], &first, 1) == 1);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 30000));
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE_MESSAGE(WIFSIGNALED(status), "the child exited with ", WEXITSTATUS(status));
    std::int64_t flushed = last_flushed(fds[0], first);
    ::close(fds[0]);
    REQUIRE(flushed >= 0);
    check_intact(path, iteration, flushed);
  }
}
