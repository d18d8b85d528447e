// Tools from the command line: the plan library's ReAct loop calling a built-in and a
// plan-defined tool, over real HTTP against `perdiem mock-provider`; grants; the
// workspace confinement the model meets; MCP servers declared in config.json.
#include <doctest/doctest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/process.hpp"

using perdiem::testing::BackgroundProcess;
using perdiem::testing::run_process;

namespace {

const std::string kCli = PERDIEM_CLI_PATH;
const std::string kSource = PERDIEM_SOURCE_DIR;
const std::string kResearch = kSource + "/examples/agents/research.lua";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/perdiem-tools-cli-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  std::string path;
};

}  // namespace

TEST_CASE("a ReAct agent calls a granted built-in and its own tool over HTTP") {
  BackgroundProcess server(kCli, {"mock-provider"});
  const std::string prefix = "perdiem mock-provider listening on ";
  REQUIRE(server.first_line().rfind(prefix, 0) == 0);
  const std::string url = server.first_line().substr(prefix.size());

  auto run =
      run_process(kCli, {"run", "--base-url", url, "--json", "--quiet", "--workspace",
                         kSource + "/examples/agents", "--allow-tool", "fs.read", kResearch});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto doc = nlohmann::json::parse(run.out);
  CHECK(doc["result"]["tool_calls"] == 2);
  CHECK(doc["result"]["notes"] == nlohmann::json::array({"hello.lua asks a model one question"}));
  // The model got the file's text back, and the note tool's answer.
  CHECK(contains(doc["result"]["answer"], "the smallest useful agent"));
  CHECK(contains(doc["result"]["answer"], "noted (1)"));
  CHECK(doc["usage"]["model_calls"] == 2);  // tool calls are steps, not model calls
}

TEST_CASE("a built-in tool is refused without its grant, naming the flag") {
  auto run = run_process(kCli, {"run", "--workspace", kSource + "/examples/agents", kResearch});
  CHECK(run.exit_code == 1);
  CHECK(contains(run.err, "--allow-tool fs.read"));
}

TEST_CASE("the model meets the workspace's walls as tool errors it can read") {
  const std::string task =
      "call tool fs__read with {\"path\": \"../../README.md\"}\n"
      "call tool fs__read with {\"path\": \"/etc/passwd\"}\n"
      "call tool notes__add with {\"wrong\": 1}";
  auto run =
      run_process(kCli, {"run", "--json", "--quiet", "--workspace", kSource + "/examples/agents",
                         "--allow-tool", "fs.read", kResearch, task});
  REQUIRE_MESSAGE(run.exit_code == 0, run.err);
  auto doc = nlohmann::json::parse(run.out);
  const std::string answer = doc["result"]["answer"];
  CHECK(contains(answer, "error: "));
  CHECK_FALSE(contains(answer, "root:"));
  CHECK(contains(answer, "required property missing"));
  CHECK(doc["result"]["notes"].empty());
}

TEST_CASE("perdiem tools list shows the built-ins and what they need") {
  auto list = run_process(kCli, {"tools", "list"});
  CHECK(list.exit_code == 0);
  CHECK(contains(list.out, "fs.read  (built-in: needs --allow-tool)"));
  CHECK(contains(list.out, "http.fetch"));
  CHECK(contains(list.out, "shell.run"));
  auto unknown = run_process(kCli, {"tools", "list", "--mcp", "nothing"});
  CHECK(unknown.exit_code == 1);
  CHECK(contains(unknown.err, "no MCP server 'nothing'"));
}

TEST_SUITE("mcp_npm" * doctest::skip()) {
  TEST_CASE("an MCP server from config.json: listed, and its tools called by a plan") {
    const std::string entry = std::string(PERDIEM_TOOLS_NPM_DIR) +
                              "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
    REQUIRE_MESSAGE(std::filesystem::exists(entry), "run the fixture: ctest -R setup.tools_npm");
    TempDir home;
    std::ofstream(home.path + "/config.json")
        << nlohmann::json{{"mcp_servers",
                           {{"everything", {{"command", "node"}, {"args", {entry, "stdio"}}}}}}}
               .dump();
    const perdiem::testing::Environment env{{"PERDIEM_HOME", home.path}};
    auto list = run_process(kCli, {"tools", "list", "--mcp", "everything"}, env);
    REQUIRE_MESSAGE(list.exit_code == 0, list.err);
    CHECK(contains(list.out, "everything.echo"));

    const std::string plan = home.path + "/echo.lua";
    std::ofstream(plan) << "return tool.call('everything.echo', {message = 'hello mcp'})";
    auto run = run_process(kCli, {"run", "--quiet", "--mcp", "everything", plan}, env);
    CHECK_MESSAGE(run.exit_code == 0, run.err);
    CHECK(contains(run.out, "hello mcp"));
  }
}
