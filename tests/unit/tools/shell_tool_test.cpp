// shell.run: the allow-list, argv without a shell, timeouts that kill, output caps.
#include "tools/builtin/shell_tool.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "tools/executor.hpp"

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;

namespace {

Result<json> run(ShellToolOptions options, const json& args) {
  ToolRegistry registry;
  REQUIRE(registry.add(make_shell_run_tool(std::move(options))).ok());
  ToolGrants grants;
  grants.allow("shell.run");
  return ToolExecutor(registry, grants).invoke("shell.run", args, {});
}

ShellToolOptions allowing(std::vector<std::string> commands) {
  ShellToolOptions options;
  options.allowed_commands = std::move(commands);
  return options;
}

}  // namespace

TEST_CASE("an allowed command runs with its arguments and no shell") {
  auto result =
      run(allowing({"echo"}), {{"command", "echo"}, {"args", {"a b", "$HOME", ";", "ls"}}});
  REQUIRE(result.ok());
  CHECK((*result)["exit_code"] == 0);
  CHECK((*result)["stdout"] == "a b $HOME ; ls\n");  // no expansion, no second command
}

TEST_CASE("commands off the allow-list are refused, by name and by path") {
  auto refused = run(allowing({"echo"}), {{"command", "rm"}, {"args", {"-rf", "/tmp/x"}}});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("'rm' is not on shell.run's allow-list") != std::string::npos);
  CHECK_FALSE(run(allowing({"echo"}), {{"command", "/bin/echo"}}).ok());
  CHECK_FALSE(run(ShellToolOptions{}, {{"command", "echo"}}).ok());
}

TEST_CASE("the tool itself needs a grant") {
  ToolRegistry registry;
  REQUIRE(registry.add(make_shell_run_tool(allowing({"echo"}))).ok());
  auto refused =
      ToolExecutor(registry, ToolGrants{}).invoke("shell.run", {{"command", "echo"}}, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("--allow-tool shell.run") != std::string::npos);
}

TEST_CASE("exit codes, stderr and stdin") {
  auto failed =
      run(allowing({"sh"}), {{"command", "sh"}, {"args", {"-c", "echo oops >&2; exit 3"}}});
  REQUIRE(failed.ok());
  CHECK((*failed)["exit_code"] == 3);
  CHECK((*failed)["stderr"] == "oops\n");
  auto cat = run(allowing({"cat"}), {{"command", "cat"}, {"stdin", "fed in"}});
  REQUIRE(cat.ok());
  CHECK((*cat)["stdout"] == "fed in");
}

TEST_CASE("a command past its timeout is killed, with its children") {
  auto start = std::chrono::steady_clock::now();
  auto slow =
      run(allowing({"sh"}),
          {{"command", "sh"}, {"args", {"-c", "sleep 30 & sleep 30"}}, {"timeout_ms", 200}});
  auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().kind == ErrorKind::timeout);
  CHECK(slow.error().message.find("200 ms") != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(5));
}

TEST_CASE("output beyond the cap is cut and flagged, and the child still finishes") {
  ShellToolOptions options = allowing({"head"});
  options.max_output_bytes = 1000;
  auto big = run(options, {{"command", "head"}, {"args", {"-c", "1000000", "/dev/zero"}}});
  REQUIRE(big.ok());
  CHECK((*big)["stdout"].get<std::string>().size() == 1000);
  CHECK((*big)["stdout_truncated"] == true);
  CHECK((*big)["exit_code"] == 0);
}

TEST_CASE("the child sees only the environment it was given") {
  ::setenv("PERDIEM_TEST_SECRET", "sk-should-not-leak", 1);
  auto env = run(allowing({"env"}), {{"command", "env"}});
  REQUIRE(env.ok());
  CHECK((*env)["stdout"].get<std::string>().find("sk-should-not-leak") == std::string::npos);
  CHECK((*env)["stdout"].get<std::string>().find("LANG=C.UTF-8") != std::string::npos);
}
