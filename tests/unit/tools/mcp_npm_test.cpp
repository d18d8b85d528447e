// A real MCP server from the npm registry (@modelcontextprotocol/server-everything),
// installed into the build tree by the ctest fixture `setup.tools_npm`. Skipped in the
// plain unit run; ctest runs it as unit.tools.mcp_npm once the fixture installed it.
#include <doctest/doctest.h>

#include <filesystem>

#include "tools/executor.hpp"
#include "tools/mcp/mcp_tools.hpp"
#include "unit/tools/mcp_support.hpp"

using namespace perdiem;
using namespace perdiem::tools;
using namespace perdiem::tools::mcp;
using nlohmann::json;

TEST_SUITE("mcp_npm" * doctest::skip()) {
  TEST_CASE("server-everything from npm: listed, registered and called") {
    std::string entry = std::string(PERDIEM_TOOLS_NPM_DIR) +
                        "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
    if (!std::filesystem::exists(entry)) {
      FAIL("server-everything is not installed at "
           << entry << "; run the fixture: ctest -R 'setup.tools_npm|unit.tools.mcp_npm'");
    }
    McpServerConfig config;
    config.name = "everything";
    config.command = perdiem::testing::node_program();
    config.args = {entry, "stdio"};
    auto client = McpClient::start(config);
    REQUIRE_MESSAGE(client.ok(), client.error().describe());
    CHECK((*client)->protocol_version() == "2025-06-18");

    ToolRegistry registry;
    auto registration = register_mcp_tools(registry, *client);
    REQUIRE_MESSAGE(registration.ok(), registration.error().describe());
    REQUIRE(registry.find("everything.echo"));
    REQUIRE(registry.find("everything.get-sum"));
    CHECK(registration->skipped.empty());

    ToolExecutor executor(registry, ToolGrants{});
    auto echo =
        executor.call({"c1", "everything__echo", R"({"message":"hello from perdiem"})"}, {});
    CHECK_FALSE(echo.is_error);
    CHECK(echo.content == "Echo: hello from perdiem");
    auto sum = executor.call({"c2", "everything.get-sum", R"({"a":2,"b":40})"}, {});
    CHECK_FALSE(sum.is_error);
    CHECK(sum.content.find("42") != std::string::npos);
    // Its schema says message is a string: the call never reaches the server.
    auto invalid = executor.call({"c3", "everything.echo", R"({"message":7})"}, {});
    CHECK(invalid.is_error);
    CHECK(invalid.content.find("$.message: expected string, got integer") != std::string::npos);
  }
}
