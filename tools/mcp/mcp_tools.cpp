#include "tools/mcp/mcp_tools.hpp"

namespace perdiem::tools::mcp {
namespace {

using nlohmann::json;

std::string string_member(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string block_text(const json& block) {
  if (!block.is_object()) return "";
  std::string type = string_member(block, "type");
  if (type == "text") return string_member(block, "text");
  if (type == "image" || type == "audio") {
    return "[" + type + ": " + string_member(block, "mimeType") + "]";
  }
  if (type == "resource") {
    json resource = block.value("resource", json::object());
    std::string text = resource.is_object() ? string_member(resource, "text") : "";
    return !text.empty()
               ? text
               : "[resource: " + (resource.is_object() ? string_member(resource, "uri") : "") + "]";
  }
  if (type == "resource_link") return "[resource link: " + string_member(block, "uri") + "]";
  return "[" + (type.empty() ? std::string("unknown") : type) + " content]";
}

}  // namespace

Result<json> tool_result_from_mcp(const json& result, const std::string& tool_name) {
  if (!result.is_object()) {
    return make_error(ErrorKind::bad_response,
                      "the MCP server answered tools/call with " + std::string(result.type_name()),
                      tool_name);
  }
  std::string text;
  bool any_content = false;
  if (auto content = result.find("content"); content != result.end() && content->is_array()) {
    for (const json& block : *content) {
      if (any_content) text += "\n";
      text += block_text(block);
      any_content = true;
    }
  }
  bool is_error = result.value("isError", false);
  if (is_error) {
    return make_error(ErrorKind::tool, text.empty() ? "the tool reported an error" : text,
                      tool_name);
  }
  if (!any_content) {
    if (auto structured = result.find("structuredContent"); structured != result.end()) {
      return *structured;
    }
  }
  return json(text);
}

Result<McpRegistration> register_mcp_tools(ToolRegistry& registry,
                                           std::shared_ptr<McpClient> client) {
  Result<std::vector<McpToolInfo>> tools = client->list_tools();
  if (!tools.ok()) return tools.error();
  McpRegistration registration;
  for (McpToolInfo& info : *tools) {
    Tool tool;
    tool.name = client->name() + "." + info.name;
    tool.description = std::move(info.description);
    tool.parameters = std::move(info.input_schema);
    tool.handler = [client, remote = info.name, name = tool.name](
                       const json& args, const ToolContext&) -> Result<json> {
      Result<json> result = client->call_tool(remote, args);
      if (!result.ok()) return result.error();
      return tool_result_from_mcp(*result, name);
    };
    std::string name = tool.name;
    if (Status added = registry.add(std::move(tool)); !added.ok()) {
      registration.skipped.push_back(info.name + ": " + added.error().message);
    } else {
      registration.registered.push_back(std::move(name));
    }
  }
  return registration;
}

}  // namespace perdiem::tools::mcp
