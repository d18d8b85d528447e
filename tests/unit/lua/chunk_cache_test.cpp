// The process's compiled-chunk cache: a plan or module compiled once is read back as
// bytecode by the next agent, behaves the same (results, errors at the same file and
// line), and is keyed by its name and whole text, so an edited module is compiled anew.
// The cache is the process's: each test uses text no other test loads.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <cstdio>

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/lua/chunk_cache.hpp"
#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::lua::chunk_cache_stats;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
namespace fs = std::filesystem;

namespace {

PlanOutcome run(std::string_view source, const char* chunk_name = "plan.lua",
                const std::string& module_dir = {}, const PlanLimits& limits = {}) {
  PlanHost host;
  if (!module_dir.empty()) host.module_paths = {module_dir};
  return perdiem::lua::run_plan(source, chunk_name, {}, limits, host);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a plan compiled once is read back by the next, and behaves the same") {
  // Closures, upvalues, string and number constants, varargs and a method call.
  const char* plan = R"lua(-- chunk cache: behaves the same
local function counter(step)
  local n = 0
  return function() n = n + step; return n end
end
local next = counter(2.5)
next()
return ("%s|%g|%d"):format(select('#', 1, nil, 3), next(), #"caché"))lua";
  const auto before = chunk_cache_stats();
  const PlanOutcome first = run(plan);
  REQUIRE_FALSE(first.error);
  CHECK(first.text == "3|5|6");
  const auto compiled = chunk_cache_stats();
  CHECK(compiled.chunks == before.chunks + 1);
  CHECK(compiled.compiles == before.compiles + 1);
  const PlanOutcome second = run(plan);
  REQUIRE_FALSE(second.error);
  CHECK(second.text == first.text);
  const auto read_back = chunk_cache_stats();
  CHECK(read_back.chunks == compiled.chunks);
  CHECK(read_back.compiles == compiled.compiles);  // read back, not compiled again
  CHECK(read_back.hits == compiled.hits + 1);
}

TEST_CASE("a plan read back from the cache fails at its own file and line") {
  const char* plan = "-- chunk cache: errors\nlocal x = 1\nerror('boom at three')\n";
  const auto before = chunk_cache_stats();
  for (int run_number = 0; run_number < 2; ++run_number) {
    CAPTURE(run_number);
    const PlanOutcome outcome = run(plan);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::script);
    CHECK(contains(outcome.error->message, "plan.lua:3: boom at three"));
  }
  CHECK(chunk_cache_stats().hits == before.hits + 1);
  // The same text under another name is another chunk: its errors name that file.
  const PlanOutcome other = run(plan, "other.lua");
  REQUIRE(other.error);
  CHECK(contains(other.error->message, "other.lua:3: boom at three"));
  CHECK(chunk_cache_stats().chunks == before.chunks + 2);
}

TEST_CASE("text that does not compile is not kept, and fails the same each time") {
  const char* plan = "-- chunk cache: syntax\nlocal = 2\n";
  const auto before = chunk_cache_stats();
  for (int run_number = 0; run_number < 2; ++run_number) {
    const PlanOutcome outcome = run(plan);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::script);
    CHECK(contains(outcome.error->message, "plan.lua:2:"));
  }
  CHECK(chunk_cache_stats().chunks == before.chunks);
  CHECK(chunk_cache_stats().compiles == before.compiles + 2);
}

TEST_CASE("modules are kept too, and a module edited on disk is compiled anew") {
  char pattern[] = "/tmp/perdiem-chunks-XXXXXX";
  REQUIRE(mkdtemp(pattern) != nullptr);
  const fs::path dir = pattern;
  const auto write_module = [&](const char* text) {
    std::ofstream(dir / "cached_module.lua", std::ios::binary) << text;
  };
  const char* plan = "-- chunk cache: modules\nreturn require('cached_module')";
  write_module("return 'first version'");
  CHECK(run(plan, "plan.lua", dir.string()).text == "first version");
  const auto kept = chunk_cache_stats();
  CHECK(run(plan, "plan.lua", dir.string()).text == "first version");
  CHECK(chunk_cache_stats().hits == kept.hits + 2);  // the plan and its module
  CHECK(chunk_cache_stats().compiles == kept.compiles);
  write_module("return 'second version'");
  CHECK(run(plan, "plan.lua", dir.string()).text == "second version");
  CHECK(chunk_cache_stats().chunks == kept.chunks + 1);
  CHECK(chunk_cache_stats().compiles == kept.compiles + 1);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}

// Compiling takes more memory than reading bytecode. Were every load of a kept chunk a
// read, a plan near its memory limit would fail when it ran first and succeed after a
// bigger agent had compiled it. At every cap, a plan whose chunk is kept ends as a copy
// of it that was never compiled before does (a name of the same length, so the same
// allocations).
TEST_CASE("whether a plan fits its memory limit does not depend on the cache") {
  std::string plan = "-- chunk cache: memory\nlocal t = {";
  for (int i = 0; i < 20000; ++i) plan += "'s" + std::to_string(i) + "',";
  plan += "}\nreturn #t";
  REQUIRE(run(plan, "kept.lua").text == "20000");  // compiled and kept, with room to spare
  int differ = 0, failed = 0;
  for (std::size_t kib = 256, n = 0; kib <= 4096; kib += 128, ++n) {
    CAPTURE(kib);
    PlanLimits limits;
    limits.memory_limit_bytes = kib * 1024;
    char fresh[16];
    std::snprintf(fresh, sizeof fresh, "n%03zu.lua", n);  // as long as "kept.lua"
    const PlanOutcome kept = run(plan, "kept.lua", {}, limits);
    const PlanOutcome cold = run(plan, fresh, {}, limits);
    CHECK(kept.error.has_value() == cold.error.has_value());
    if (kept.error.has_value() != cold.error.has_value()) ++differ;
    if (cold.error) {
      ++failed;
      CHECK(cold.error->kind == ErrorKind::limit);
      REQUIRE(kept.error);
      CHECK(kept.error->message == cold.error->message);
    }
  }
  CHECK(differ == 0);
  CHECK(failed > 0);   // the range reaches caps too small to compile it
  CHECK(failed < 31);  // and caps big enough
}
