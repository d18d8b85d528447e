// An MCP server's tools in the registry, as "server.tool".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"
#include "tools/mcp/mcp_client.hpp"
#include "tools/tool.hpp"

namespace perdiem::tools::mcp {

// A tools/call result as a tool result. Content blocks become text, joined by newlines:
// text as is, images and audio as "[image: image/png]", embedded resources as their
// text (or "[resource: uri]"), resource links as "[resource link: uri]". When there is
// no content but structuredContent, that JSON is the result. isError: true becomes a
// `tool` error carrying the text, so the model can read what went wrong.
Result<nlohmann::json> tool_result_from_mcp(const nlohmann::json& result,
                                            const std::string& tool_name);

struct McpRegistration {
  std::vector<std::string> registered;  // "everything.echo", ...
  // Tools that could not be registered, each with why ("a/b: name is not valid ...").
  std::vector<std::string> skipped;
};

// Lists the server's tools and registers each as "<server name>.<tool>" (not built-in:
// declaring the server is the operator's grant; ToolGrants::deny can still refuse one).
// The tools hold `client`, so the server lives while any of them is registered; remove
// them with registry.remove_prefix(name + ".") to let it go.
Result<McpRegistration> register_mcp_tools(ToolRegistry& registry,
                                           std::shared_ptr<McpClient> client);

}  // namespace perdiem::tools::mcp
