// register_builtin_tools: which tools appear, and that registered is not granted.
#include "tools/builtin/builtins.hpp"

#include <doctest/doctest.h>

#include "tools/executor.hpp"
#include "unit/tools/temp_dir.hpp"

using namespace perdiem;
using namespace perdiem::tools;

namespace {

std::vector<std::string> names(const ToolRegistry& registry) {
  std::vector<std::string> result;
  for (const auto& tool : registry.list()) result.push_back(tool->name);
  return result;
}

}  // namespace

TEST_CASE("without a workspace there are no fs tools") {
  ToolRegistry registry;
  REQUIRE(register_builtin_tools(registry, {}).ok());
  CHECK(names(registry) == std::vector<std::string>{"clock.now", "http.fetch", "shell.run"});
}

TEST_CASE("with a workspace: every built-in, each refused until granted") {
  perdiem::testing::TempDir dir;
  BuiltinToolOptions options;
  options.workspace = dir.path();
  ToolRegistry registry;
  REQUIRE(register_builtin_tools(registry, options).ok());
  CHECK(names(registry) == std::vector<std::string>{"clock.now", "fs.list", "fs.read", "fs.write",
                                                    "http.fetch", "shell.run"});
  for (const auto& tool : registry.list()) {
    CAPTURE(tool->name);
    CHECK(tool->builtin);
    CHECK_FALSE(ToolGrants{}.allows(*tool));
  }
  ToolExecutor executor(registry, ToolGrants{});
  auto refused = executor.invoke("clock.now", nlohmann::json::object(), {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("--allow-tool clock.now") != std::string::npos);
}

TEST_CASE("a missing workspace fails registration") {
  BuiltinToolOptions options;
  options.workspace = "/nonexistent/perdiem-ws";
  ToolRegistry registry;
  CHECK_FALSE(register_builtin_tools(registry, options).ok());
}
