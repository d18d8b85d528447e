#include "sdk/src/memory_tools.hpp"

namespace perdiem::sdk {
namespace {

using nlohmann::json;

json string_property(const char* description) {
  return {{"type", "string"}, {"description", description}};
}

tools::Tool memory_tool(std::string name, std::string description, json properties,
                        std::vector<std::string> required, tools::ToolHandler handler,
                        const memory::MemoryStore* store) {
  tools::Tool tool;
  tool.name = std::move(name);
  tool.description = std::move(description);
  tool.parameters = {{"type", "object"},
                     {"properties", std::move(properties)},
                     {"required", std::move(required)},
                     {"additionalProperties", false}};
  if (store == nullptr) {
    handler = [](const json&, const tools::ToolContext&) -> Result<json> {
      return make_error(ErrorKind::config, "this tool has no memory store");
    };
  }
  tool.handler = std::move(handler);
  tool.builtin = true;
  return tool;
}

std::string ns_of(const json& args, const char* fallback) {
  return args.contains("ns") ? args["ns"].get<std::string>() : fallback;
}

}  // namespace

Status register_memory_tools(tools::ToolRegistry& registry, memory::MemoryStore* store) {
  memory::MemoryStore* memory = store;
  tools::Tool tools_list[] = {
      memory_tool(
          "memory.remember", "Store a text so it can be found later with memory.recall.",
          {{"text", string_property("the text to remember")},
           {"ns", string_property("a namespace, default \"default\"")}},
          {"text"},
          [memory](const json& args, const tools::ToolContext&) -> Result<json> {
            memory::RememberOptions options;
            options.ns = ns_of(args, "default");
            options.source = "model";
            auto remembered = memory->remember(args["text"].get<std::string>(), options);
            if (!remembered) return remembered.error();
            return json{{"document", remembered->document_id},
                        {"chunks", remembered->chunk_ids.size()}};
          },
          memory),
      memory_tool(
          "memory.recall", "Search remembered text; returns the best matching passages.",
          {{"query", string_property("what to look for")},
           {"ns", string_property("only this namespace")},
           {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}}}},
          {"query"},
          [memory](const json& args, const tools::ToolContext&) -> Result<json> {
            memory::RecallOptions options;
            options.ns = ns_of(args, "");
            options.k = args.contains("k") ? args["k"].get<std::size_t>() : 5;
            auto hits = memory->recall(args["query"].get<std::string>(), options);
            if (!hits) return hits.error();
            json out = json::array();
            for (const auto& hit : *hits) {
              out.push_back({{"text", hit.text}, {"source", hit.source}, {"ns", hit.ns}});
            }
            return out;
          },
          memory),
      memory_tool(
          "memory.set", "Save a fact (any JSON value) under a namespace and key.",
          {{"ns", string_property("the namespace")},
           {"key", string_property("the key")},
           {"value", json::object()}},
          {"ns", "key", "value"},
          [memory](const json& args, const tools::ToolContext&) -> Result<json> {
            Status set = memory->set_fact(args["ns"].get<std::string>(),
                                          args["key"].get<std::string>(), args["value"]);
            if (!set.ok()) return set.error();
            return json("saved");
          },
          memory),
      memory_tool(
          "memory.get", "Read a fact saved with memory.set (null when there is none).",
          {{"ns", string_property("the namespace")}, {"key", string_property("the key")}},
          {"ns", "key"},
          [memory](const json& args, const tools::ToolContext&) -> Result<json> {
            auto value =
                memory->get_fact(args["ns"].get<std::string>(), args["key"].get<std::string>());
            if (!value) return value.error();
            return value->value_or(json(nullptr));
          },
          memory),
  };
  for (tools::Tool& tool : tools_list) {
    if (Status added = registry.add(std::move(tool)); !added.ok()) return added;
  }
  return Status::success();
}

}  // namespace perdiem::sdk
