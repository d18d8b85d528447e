// The process's compiled-chunk cache: a plan or module compiled once is read back as
// bytecode by the next agent, behaves the same (results, errors at the same file and
// line), and is keyed by its name and whole text, so an edited module is compiled anew.
// The cache is the process's: each test uses text no other test loads.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/lua/chunk_cache.hpp"
#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::lua::chunk_cache_size;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanOutcome;
namespace fs = std::filesystem;

namespace {

PlanOutcome run(std::string_view source, const char* chunk_name = "plan.lua",
                const std::string& module_dir = {}) {
  PlanHost host;
  if (!module_dir.empty()) host.module_paths = {module_dir};
  return perdiem::lua::run_plan(source, chunk_name, {}, {}, host);
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
  const std::size_t before = chunk_cache_size().chunks;
  const PlanOutcome first = run(plan);
  REQUIRE_FALSE(first.error);
  CHECK(first.text == "3|5|6");
  CHECK(chunk_cache_size().chunks == before + 1);
  const PlanOutcome second = run(plan);
  REQUIRE_FALSE(second.error);
  CHECK(second.text == first.text);
  CHECK(chunk_cache_size().chunks == before + 1);  // read back, not compiled again
}

TEST_CASE("a plan read back from the cache fails at its own file and line") {
  const char* plan = "-- chunk cache: errors\nlocal x = 1\nerror('boom at three')\n";
  const std::size_t before = chunk_cache_size().chunks;
  for (int run_number = 0; run_number < 2; ++run_number) {
    CAPTURE(run_number);
    const PlanOutcome outcome = run(plan);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::script);
    CHECK(contains(outcome.error->message, "plan.lua:3: boom at three"));
  }
  // The same text under another name is another chunk: its errors name that file.
  const PlanOutcome other = run(plan, "other.lua");
  REQUIRE(other.error);
  CHECK(contains(other.error->message, "other.lua:3: boom at three"));
  CHECK(chunk_cache_size().chunks == before + 2);
}

TEST_CASE("text that does not compile is not kept, and fails the same each time") {
  const char* plan = "-- chunk cache: syntax\nlocal = 2\n";
  const std::size_t before = chunk_cache_size().chunks;
  for (int run_number = 0; run_number < 2; ++run_number) {
    const PlanOutcome outcome = run(plan);
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::script);
    CHECK(contains(outcome.error->message, "plan.lua:2:"));
  }
  CHECK(chunk_cache_size().chunks == before);
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
  const std::size_t kept = chunk_cache_size().chunks;
  CHECK(run(plan, "plan.lua", dir.string()).text == "first version");
  CHECK(chunk_cache_size().chunks == kept);
  write_module("return 'second version'");
  CHECK(run(plan, "plan.lua", dir.string()).text == "second version");
  CHECK(chunk_cache_size().chunks == kept + 1);
  std::error_code ignored;
  fs::remove_all(dir, ignored);
}
