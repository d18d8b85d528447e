// require: modules from the script's directory and the plan library, nothing else.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/lua/plan.hpp"

using perdiem::ErrorKind;
using perdiem::Result;
using perdiem::lua::PlanHost;
using perdiem::lua::PlanLimits;
using perdiem::lua::PlanOutcome;
using perdiem::providers::ChatRequest;
using perdiem::providers::ChatResponse;
namespace fs = std::filesystem;

namespace {

// A fresh directory tree under /tmp, removed on destruction.
struct TempTree {
  fs::path root;
  TempTree() {
    char pattern[] = "/tmp/perdiem-require-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    root = pattern;
  }
  ~TempTree() {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }
  void write(const std::string& relative, const std::string& text) const {
    const fs::path path = root / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
  }
};

struct Runner {
  PlanHost host;
  std::vector<ChatRequest> requests;
  Runner() {
    host.chat = [this](const ChatRequest& request) {
      requests.push_back(request);
      ChatResponse response;
      response.content = "reply";
      return Result<ChatResponse>(response);
    };
  }
  PlanOutcome run(std::string_view source, const PlanLimits& limits = {}) {
    return perdiem::lua::run_plan(source, "plan.lua", {}, limits, host);
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("require without module directories is a clear not_found error") {
  Runner runner;
  const PlanOutcome outcome = runner.run("local react = require('perdiem.react')");
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::not_found);
  CHECK(outcome.error->message ==
        "module 'perdiem.react' not found: this host gives plans no module directories");
  CHECK(outcome.error->source == "plan.lua:1");
}

TEST_CASE("require refuses names that are paths, whatever the directories hold") {
  TempTree tree;
  tree.write("secret.lua", "return 'secret'");
  tree.write("scripts/ok.lua", "return 'ok'");
  Runner runner;
  runner.host.module_paths = {(tree.root / "scripts").string()};
  for (const char* name : {"../secret", "/etc/passwd", "..secret", ".secret", "ok.", "a..b",
                           "scripts/ok", "ok.lua/", "ok\\0x", "", "ok lua", "~/ok"}) {
    CAPTURE(name);
    const PlanOutcome outcome = runner.run(std::string("return require('") + name + "')");
    REQUIRE(outcome.error);
    CHECK(outcome.error->kind == ErrorKind::sandbox);
    CHECK(contains(outcome.error->message, "a module name is words of letters, digits and '_'"));
  }
  CHECK(runner.run("return require('ok')").text == "ok");
}

TEST_CASE("require loads from the script's directory first, then the plan library") {
  TempTree tree;
  tree.write("agent/helpers.lua", "return {name = 'script dir'}");
  tree.write("library/helpers.lua", "return {name = 'library'}");
  tree.write("library/perdiem/util.lua",
             "local M = {} function M.twice(x) return 2 * x end return M");
  Runner runner;
  runner.host.script_directory = (tree.root / "agent").string();
  runner.host.module_paths = {(tree.root / "missing").string(), (tree.root / "library").string()};
  const PlanOutcome outcome =
      runner.run("return require('helpers').name .. ' ' .. require('perdiem.util').twice(21)");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "script dir 42");
}

TEST_CASE("a module runs once per plan and shares the plan's sandboxed globals") {
  TempTree tree;
  tree.write("counter.lua", R"lua(
loads = (loads or 0) + 1
local name = ...
return {name = name, io_reachable = pcall(function() return io end)})lua");
  tree.write("nothing.lua", "local x = 1");
  Runner runner;
  runner.host.script_directory = tree.root.string();
  const PlanOutcome outcome = runner.run(R"lua(
    local a = require("counter")
    local b = require("counter")
    return {same = a == b, loads = loads, name = a.name, io = a.io_reachable,
            nothing = require("nothing")})lua");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.json == R"({"io":false,"loads":1,"name":"counter","nothing":true,"same":true})");
  // A new plan is a new state: the module runs again there.
  CHECK(runner.run("require('counter') return loads").text == "1");
}

TEST_CASE("a module's errors name its own file and line, and a later require retries") {
  TempTree tree;
  tree.write("lib/bad_syntax.lua", "local x = 1\nlocal = 2\n");
  tree.write("lib/fails.lua", "attempts = (attempts or 0) + 1\nerror('module failed')\n");
  Runner runner;
  runner.host.module_paths = {tree.root.string()};
  const PlanOutcome syntax = runner.run("require('lib.bad_syntax')");
  REQUIRE(syntax.error);
  CHECK(syntax.error->kind == ErrorKind::script);
  CHECK(contains(syntax.error->message, "lib/bad_syntax.lua:2:"));
  CHECK_FALSE(contains(syntax.error->message, tree.root.string()));  // no host paths leak

  const PlanOutcome retried = runner.run(R"lua(
    local ok1, err1 = pcall(require, "lib.fails")
    local ok2, err2 = pcall(require, "lib.fails")
    return attempts .. " " .. err2)lua");
  REQUIRE_FALSE(retried.error);
  CHECK(retried.text == "2 lib/fails.lua:2: module failed");
}

TEST_CASE("a require cycle is an error, not endless recursion") {
  TempTree tree;
  tree.write("a.lua", "return require('b')");
  tree.write("b.lua", "return require('a')");
  Runner runner;
  runner.host.script_directory = tree.root.string();
  const PlanOutcome outcome = runner.run("return require('a')");
  REQUIRE(outcome.error);
  CHECK(contains(outcome.error->message, "module 'a' was required again while loading (a cycle)"));
}

TEST_CASE("a link that leads out of a module directory is not followed") {
  TempTree tree;
  tree.write("outside/secret.lua", "return 'secret'");
  tree.write("lib/real.lua", "return 'real'");
  fs::create_directories(tree.root / "lib");
  fs::create_symlink(tree.root / "outside" / "secret.lua", tree.root / "lib" / "escape.lua");
  fs::create_symlink(tree.root / "lib" / "real.lua", tree.root / "lib" / "alias.lua");
  Runner runner;
  runner.host.module_paths = {(tree.root / "lib").string()};
  const PlanOutcome escaped = runner.run("return require('escape')");
  REQUIRE(escaped.error);
  CHECK(escaped.error->kind == ErrorKind::not_found);
  CHECK(escaped.error->message ==
        "module 'escape' not found in the script's directory or the plan library");
  CHECK(runner.run("return require('alias')").text == "real");
}

TEST_CASE("a module is text only and bounded by the memory limit") {
  TempTree tree;
  tree.write("binary.lua", std::string("\x1bLua\x54\x00", 6));
  tree.write("huge.lua", "return '" + std::string(2u << 20, 'x') + "'");
  Runner runner;
  runner.host.script_directory = tree.root.string();
  const PlanOutcome binary = runner.run("return require('binary')");
  REQUIRE(binary.error);
  CHECK(contains(binary.error->message, "attempt to load a binary chunk"));
  PlanLimits limits;
  limits.memory_limit_bytes = 1u << 20;
  const PlanOutcome huge = runner.run("return require('huge')", limits);
  REQUIRE(huge.error);
  CHECK(huge.error->kind == ErrorKind::limit);
  CHECK(huge.error->message == "module 'huge' is larger than the plan's memory limit");
}

TEST_CASE("a module can call the model while it loads") {
  TempTree tree;
  tree.write("warm.lua",
             "return model.chat{messages = {{role = 'user', content = 'warm up'}}}.content");
  Runner runner;
  runner.host.script_directory = tree.root.string();
  const PlanOutcome outcome = runner.run("return require('warm') .. ' ' .. require('warm')");
  REQUIRE_FALSE(outcome.error);
  CHECK(outcome.text == "reply reply");
  CHECK(runner.requests.size() == 1);
}

TEST_CASE("a module that loops forever hits the plan's instruction limit") {
  TempTree tree;
  tree.write("spin.lua", "while true do end");
  Runner runner;
  runner.host.script_directory = tree.root.string();
  PlanLimits limits;
  limits.instruction_limit = 1'000'000;
  const PlanOutcome outcome = runner.run("pcall(require, 'spin') return 'escaped'", limits);
  REQUIRE(outcome.error);
  CHECK(outcome.error->kind == ErrorKind::limit);
  CHECK(outcome.error->message == "instruction limit of 1000000 reached");
  CHECK(outcome.error->source == "spin.lua:1");
}
