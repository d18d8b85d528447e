#include "tools/tool.hpp"

#include <algorithm>

namespace perdiem::tools {
namespace {

constexpr std::size_t kMaxNameLength = 64;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool empty_schema(const nlohmann::json& schema) {
  return schema.is_null() || (schema.is_object() && schema.empty());
}

Status check_parameters(const Tool& tool) {
  const nlohmann::json& schema = tool.parameters;
  if (empty_schema(schema)) return {};
  if (!schema.is_object()) {
    return make_error(ErrorKind::invalid_argument,
                      "the parameters of tool '" + tool.name + "' must be a JSON Schema object",
                      tool.name);
  }
  // Providers require the arguments to be an object, so the schema must describe one.
  auto type = schema.find("type");
  if (type != schema.end() && *type != "object") {
    return make_error(ErrorKind::invalid_argument,
                      "the parameters schema of tool '" + tool.name +
                          "' must have \"type\": \"object\" (the model passes an object)",
                      tool.name);
  }
  return {};
}

}  // namespace

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  bool segment_empty = true;
  for (char c : name) {
    if (c == '.') {
      if (segment_empty) return false;
      segment_empty = true;
    } else if (name_char(c)) {
      segment_empty = false;
    } else {
      return false;
    }
  }
  return !segment_empty;
}

std::string wire_tool_name(std::string_view name) {
  std::string wire;
  for (char c : name) {
    if (c == '.') {
      wire += "__";
    } else {
      wire += c;
    }
  }
  return wire;
}

providers::ToolDefinition to_definition(const Tool& tool) {
  providers::ToolDefinition definition;
  definition.name = wire_tool_name(tool.name);
  definition.description = tool.description;
  if (!empty_schema(tool.parameters)) definition.parameters = tool.parameters.dump();
  return definition;
}

Status ToolRegistry::add(Tool tool) {
  if (!valid_tool_name(tool.name)) {
    return make_error(ErrorKind::invalid_argument,
                      "tool name '" + tool.name +
                          "' is not valid: use letters, digits, '_' and '-', segments "
                          "joined by '.', at most 64 characters",
                      tool.name);
  }
  if (!tool.handler) {
    return make_error(ErrorKind::invalid_argument, "tool '" + tool.name + "' has no handler",
                      tool.name);
  }
  if (tool.price_nanos && *tool.price_nanos < 0) {
    return make_error(ErrorKind::invalid_argument, "tool '" + tool.name + "' has a negative price",
                      tool.name);
  }
  if (Status s = check_parameters(tool); !s.ok()) return s;
  std::string wire = wire_tool_name(tool.name);

  std::lock_guard lock(mutex_);
  if (by_name_.count(tool.name) != 0) {
    return make_error(ErrorKind::invalid_argument,
                      "a tool named '" + tool.name + "' is already registered", tool.name);
  }
  if (auto clash = name_by_wire_.find(wire); clash != name_by_wire_.end()) {
    return make_error(ErrorKind::invalid_argument,
                      "tool '" + tool.name + "' would be sent to models as '" + wire +
                          "', the same name as tool '" + clash->second + "'",
                      tool.name);
  }
  name_by_wire_.emplace(wire, tool.name);
  std::string name = tool.name;
  by_name_.emplace(std::move(name), std::make_shared<const Tool>(std::move(tool)));
  return {};
}

bool ToolRegistry::remove(std::string_view name) {
  std::lock_guard lock(mutex_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return false;
  name_by_wire_.erase(wire_tool_name(name));
  by_name_.erase(it);
  return true;
}

std::size_t ToolRegistry::remove_prefix(std::string_view prefix) {
  std::lock_guard lock(mutex_);
  std::size_t removed = 0;
  for (auto it = by_name_.begin(); it != by_name_.end();) {
    if (std::string_view(it->first).substr(0, prefix.size()) == prefix) {
      name_by_wire_.erase(wire_tool_name(it->first));
      it = by_name_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

std::shared_ptr<const Tool> ToolRegistry::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  if (auto wire = name_by_wire_.find(name); wire != name_by_wire_.end()) {
    return by_name_.find(wire->second)->second;
  }
  return nullptr;
}

std::vector<std::shared_ptr<const Tool>> ToolRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const Tool>> tools;
  tools.reserve(by_name_.size());
  for (const auto& [name, tool] : by_name_) tools.push_back(tool);
  return tools;
}

std::size_t ToolRegistry::size() const {
  std::lock_guard lock(mutex_);
  return by_name_.size();
}

bool ToolGrants::matches(const std::set<std::string>& patterns, std::string_view name) {
  if (patterns.count("*") != 0 || patterns.count(std::string(name)) != 0) return true;
  // "fs.*" covers "fs.read" and "fs.sub.x"; walk every '.'-prefix of the name.
  for (std::size_t dot = name.find('.'); dot != std::string_view::npos;
       dot = name.find('.', dot + 1)) {
    if (patterns.count(std::string(name.substr(0, dot)) + ".*") != 0) return true;
  }
  return false;
}

bool ToolGrants::allows(const Tool& tool) const {
  if (matches(denied_, tool.name)) return false;
  return !tool.builtin || matches(allowed_, tool.name);
}

Status ToolGrants::check(const Tool& tool) const {
  if (allows(tool)) return {};
  if (matches(denied_, tool.name)) {
    return make_error(ErrorKind::tool,
                      "tool '" + tool.name + "' is turned off for this run by the operator",
                      tool.name);
  }
  return make_error(ErrorKind::tool,
                    "built-in tool '" + tool.name +
                        "' is off unless granted; allow it with --allow-tool " + tool.name +
                        " (or the run's allowed tools in the SDK or config)",
                    tool.name);
}

}  // namespace perdiem::tools
