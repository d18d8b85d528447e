// mcp_servers_from_config: the "mcp_servers" section of PERDIEM_HOME/config.json.
#include <nlohmann/json.hpp>

#include "perdiem/tools.hpp"
#include "sdk/src/home_config.hpp"

namespace perdiem {
namespace {

Error malformed(const std::string& path, const std::string& what) {
  return make_error(ErrorKind::config, path + ": " + what +
                                           " (expected \"mcp_servers\": {\"NAME\": {\"command\": "
                                           "\"...\", \"args\": [...], \"env\": {...}}})");
}

Result<McpServer> parse_server(const std::string& path, const std::string& name,
                               const nlohmann::json& entry) {
  const std::string where = "mcp_servers." + name;
  if (!entry.is_object()) return malformed(path, where + " is not an object");
  McpServer server;
  server.name = name;
  auto command = entry.find("command");
  if (command == entry.end() || !command->is_string() || command->get<std::string>().empty()) {
    return malformed(path, where + ".command must be a program name");
  }
  server.command = command->get<std::string>();
  if (auto args = entry.find("args"); args != entry.end()) {
    if (!args->is_array()) return malformed(path, where + ".args must be an array of strings");
    for (const auto& arg : *args) {
      if (!arg.is_string()) return malformed(path, where + ".args must be an array of strings");
      server.args.push_back(arg.get<std::string>());
    }
  }
  if (auto env = entry.find("env"); env != entry.end()) {
    if (!env->is_object()) return malformed(path, where + ".env must map names to strings");
    for (const auto& [key, value] : env->items()) {
      if (!value.is_string()) return malformed(path, where + ".env must map names to strings");
      server.env[key] = value.get<std::string>();
    }
  }
  return server;
}

}  // namespace

Result<std::vector<McpServer>> mcp_servers_from_config(const std::string& home) {
  const std::string path = home + "/config.json";
  Result<std::string> text = sdk::read_small_file(path, sdk::kMaxConfigBytes, "config.json");
  if (!text) {
    if (text.error().kind == ErrorKind::not_found) return std::vector<McpServer>{};
    return text.error();
  }
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return malformed(path, "the file is not a JSON object");
  std::vector<McpServer> servers;
  auto section = doc.find("mcp_servers");
  if (section == doc.end()) return servers;
  if (!section->is_object()) return malformed(path, "mcp_servers is not an object");
  for (const auto& [name, entry] : section->items()) {
    Result<McpServer> server = parse_server(path, name, entry);
    if (!server) return server.error();
    servers.push_back(std::move(*server));
  }
  return servers;
}

}  // namespace perdiem
