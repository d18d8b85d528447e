#include "sdk/src/runtime_tools.hpp"

#include <exception>
#include <filesystem>

#include "sdk/src/memory_tools.hpp"
#include "tools/builtin/builtins.hpp"
#include "tools/mcp/mcp_tools.hpp"

namespace perdiem::sdk {
namespace {

tools::Tool from_host(const HostTool& host) {
  tools::Tool tool;
  tool.name = host.name;
  tool.description = host.description;
  tool.price_nanos = host.price_nanos;
  if (!host.parameters_json.empty()) {
    tool.parameters = nlohmann::json::parse(host.parameters_json, nullptr, false);
  }
  auto handler = host.handler;
  tool.handler = [handler, name = host.name](const nlohmann::json& args,
                                             const tools::ToolContext&) -> Result<nlohmann::json> {
    Result<std::string> result = [&]() -> Result<std::string> {
      try {
        return handler(args.dump());
      } catch (const std::exception& e) {
        return make_error(ErrorKind::internal, std::string("the tool threw: ") + e.what(), name);
      } catch (...) {
        return make_error(ErrorKind::internal, "the tool threw an unknown exception", name);
      }
    }();
    if (!result) return result.error();
    // JSON text stays a value; anything else is text.
    nlohmann::json parsed = nlohmann::json::parse(*result, nullptr, false);
    if (parsed.is_discarded()) return nlohmann::json(*result);
    return parsed;
  };
  return tool;
}

// Built-ins registered into a scratch registry, for listing.
std::vector<std::shared_ptr<const tools::Tool>> builtin_catalog() {
  tools::ToolRegistry registry;
  tools::BuiltinToolOptions options;
  // fs.* register only with a workspace; the root just lets them be listed.
  options.workspace.emplace(std::filesystem::path("/").string());
  (void)tools::register_builtin_tools(registry, options);
  (void)register_memory_tools(registry, nullptr);  // listed only, never called
  return registry.list();
}

}  // namespace

std::string tool_result_text(const nlohmann::json& result) {
  if (result.is_string()) return result.get<std::string>();
  return result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::shared_ptr<const tools::Tool>> RunTools::find(const std::string& name) const {
  std::shared_ptr<const tools::Tool> tool = registry_.find(name);
  if (!tool) {
    return make_error(ErrorKind::tool,
                      "no tool named '" + name +
                          "' in this run; tool.list() shows the tools "
                          "it may call",
                      name);
  }
  if (Status granted = grants_.check(*tool); !granted.ok()) return granted.error();
  return tool;
}

Result<nlohmann::json> RunTools::invoke(const std::string& name, const nlohmann::json& arguments,
                                        const tools::ToolContext& context) const {
  return executor_->invoke(name, arguments, context);
}

std::vector<std::shared_ptr<const tools::Tool>> RunTools::allowed() const {
  std::vector<std::shared_ptr<const tools::Tool>> out;
  for (auto& tool : registry_.list()) {
    if (grants_.allows(*tool)) out.push_back(std::move(tool));
  }
  return out;
}

RuntimeTools::~RuntimeTools() = default;

Result<std::unique_ptr<RuntimeTools>> RuntimeTools::create(const std::vector<HostTool>& host_tools,
                                                           const std::vector<McpServer>& servers) {
  std::unique_ptr<RuntimeTools> runtime_tools(new RuntimeTools());
  for (const HostTool& host : host_tools) {
    if (!host.handler) {
      return make_error(ErrorKind::invalid_argument,
                        "host tool '" + host.name + "' has no handler");
    }
    tools::Tool tool = from_host(host);
    if (tool.parameters.is_discarded()) {
      return make_error(ErrorKind::invalid_argument,
                        "host tool '" + host.name + "': parameters_json is not JSON");
    }
    if (Status added = runtime_tools->shared_.add(std::move(tool)); !added.ok()) {
      return added.error();
    }
  }
  for (const McpServer& server : servers) {
    tools::mcp::McpServerConfig config;
    config.name = server.name;
    config.command = server.command;
    config.args = server.args;
    config.env = server.env;
    auto client = tools::mcp::McpClient::start(config);
    if (!client) {
      Error error = client.error();
      error.kind = ErrorKind::config;
      error.message = "MCP server '" + server.name + "' did not start: " + error.message;
      return error;
    }
    auto registered = tools::mcp::register_mcp_tools(runtime_tools->shared_, *client);
    if (!registered) return registered.error();
    runtime_tools->servers_.push_back(std::move(*client));
  }
  // Runs build their tools when they first use one; a host or MCP tool whose name
  // clashes with a built-in would fail there, so it is refused here instead.
  tools::ToolRegistry clashes;
  for (const auto& tool : builtin_catalog()) (void)clashes.add(*tool);
  for (const auto& tool : runtime_tools->shared_.list()) {
    if (Status added = clashes.add(*tool); !added.ok()) return added.error();
  }
  return runtime_tools;
}

Result<std::unique_ptr<RunTools>> RuntimeTools::for_run(const RunOptions& options,
                                                        memory::MemoryStore& memory) const {
  std::unique_ptr<RunTools> run(new RunTools());
  for (const auto& tool : shared_.list()) {
    if (Status added = run->registry_.add(*tool); !added.ok()) return added.error();
  }
  tools::BuiltinToolOptions builtins;
  builtins.http.allowed_hosts = options.allowed_hosts;
  if (!options.workspace.empty()) builtins.workspace = options.workspace;
  builtins.shell.allowed_commands = options.shell_commands;
  if (Status added = tools::register_builtin_tools(run->registry_, builtins); !added.ok()) {
    return added.error();
  }
  if (Status added = register_memory_tools(run->registry_, &memory); !added.ok()) {
    return added.error();
  }
  for (const std::string& pattern : options.allowed_tools) run->grants_.allow(pattern);
  run->executor_ = std::make_unique<tools::ToolExecutor>(run->registry_, run->grants_);
  return run;
}

Status RuntimeTools::check(const RunOptions& options) const {
  if (options.workspace.empty()) return {};
  Result<tools::Workspace> workspace = tools::Workspace::open(options.workspace);
  if (!workspace) return workspace.error();
  return {};
}

std::vector<ToolInfo> RuntimeTools::list() const {
  std::vector<ToolInfo> out;
  for (const auto& tool : shared_.list()) {
    out.push_back({tool->name, tool->description, false, tool->price_nanos});
  }
  for (const auto& tool : builtin_catalog()) {
    out.push_back({tool->name, tool->description, true, tool->price_nanos});
  }
  return out;
}

}  // namespace perdiem::sdk
