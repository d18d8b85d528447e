// The tools of a Runtime: host tools and MCP servers' tools, shared by every run, and
// per run a registry adding the built-ins configured by that run's options (workspace,
// hosts, shell commands) with the run's grants.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "perdiem/perdiem.hpp"
#include "runtime/memory/memory_store.hpp"
#include "tools/executor.hpp"
#include "tools/mcp/mcp_client.hpp"
#include "tools/tool.hpp"

namespace perdiem::sdk {

class RunTools {
 public:
  // The tool `name` (or its wire name) if this run may call it; else a `tool` error
  // saying it does not exist or how to grant it.
  Result<std::shared_ptr<const tools::Tool>> find(const std::string& name) const;
  // Validates `arguments` against the tool's schema and runs it (grant checked again).
  Result<nlohmann::json> invoke(const std::string& name, const nlohmann::json& arguments,
                                const tools::ToolContext& context) const;
  // Every tool this run may call, by name.
  std::vector<std::shared_ptr<const tools::Tool>> allowed() const;

 private:
  friend class RuntimeTools;
  RunTools() = default;
  tools::ToolRegistry registry_;
  tools::ToolGrants grants_;
  std::unique_ptr<tools::ToolExecutor> executor_;
};

class RuntimeTools {
 public:
  // Registers the host tools and starts the MCP servers (config errors name the tool or
  // server at fault).
  static Result<std::unique_ptr<RuntimeTools>> create(const std::vector<HostTool>& host_tools,
                                                      const std::vector<McpServer>& servers);
  ~RuntimeTools();

  // What for_run would refuse in `options`, checked without building the tools: a
  // workspace that cannot be opened.
  [[nodiscard]] Status check(const RunOptions& options) const;
  // The run's tools; `memory` backs the memory.* tools.
  Result<std::unique_ptr<RunTools>> for_run(const RunOptions& options,
                                            memory::MemoryStore& memory) const;
  // The shared tools and the built-ins, as ToolInfo.
  std::vector<ToolInfo> list() const;

 private:
  RuntimeTools() = default;
  tools::ToolRegistry shared_;
  std::vector<std::shared_ptr<tools::mcp::McpClient>> servers_;
};

// The text a model reads for a tool's result: a string as is, anything else as JSON.
std::string tool_result_text(const nlohmann::json& result);

}  // namespace perdiem::sdk
