// Finding Node.js and the test MCP servers (the fake script, the npm-installed one).
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "tools/mcp/mcp_client.hpp"
#include "tools/subprocess.hpp"

namespace perdiem::testing {

// The node program, or a failed test saying how to get it.
inline std::string node_program() {
  const char* path = std::getenv("PATH");
  std::string node = tools::find_program("node", path ? path : "/usr/bin:/bin");
  if (node.empty()) {
    FAIL("Node.js is not installed; the MCP tests need it: apt-get install nodejs npm");
  }
  return node;
}

// A config running tests/unit/tools/fake_mcp_server.js in `mode`.
inline tools::mcp::McpServerConfig fake_server(const std::string& mode,
                                               const std::string& name = "fake") {
  tools::mcp::McpServerConfig config;
  config.name = name;
  config.command = node_program();
  config.args = {std::string(PERDIEM_SOURCE_DIR) + "/tests/unit/tools/fake_mcp_server.js", mode};
  return config;
}

}  // namespace perdiem::testing
