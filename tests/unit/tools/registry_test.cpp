// The registry (names, wire names, uniqueness, threads) and grants.
#include "tools/tool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;

namespace {

Tool echo(std::string name, bool builtin = false) {
  Tool tool;
  tool.name = std::move(name);
  tool.description = "echoes";
  tool.parameters = {{"type", "object"}, {"properties", {{"text", {{"type", "string"}}}}}};
  tool.handler = [](const json& args, const ToolContext&) -> Result<json> { return args; };
  tool.builtin = builtin;
  return tool;
}

}  // namespace

TEST_CASE("tool names: segments joined by dots") {
  for (const char* good : {"fetch", "fs.read", "everything.get-sum", "a_b.c-d.e"}) {
    CAPTURE(good);
    CHECK(valid_tool_name(good));
  }
  for (const char* bad : {"", ".x", "x.", "a..b", "a b", "a/b", "é"}) {
    CAPTURE(bad);
    CHECK_FALSE(valid_tool_name(bad));
  }
  CHECK_FALSE(valid_tool_name(std::string(65, 'a')));
  CHECK(wire_tool_name("fs.read") == "fs__read");
}

TEST_CASE("register, find by name or wire name, list sorted, remove") {
  ToolRegistry registry;
  REQUIRE(registry.add(echo("b.two")).ok());
  REQUIRE(registry.add(echo("a")).ok());
  CHECK(registry.size() == 2);
  REQUIRE(registry.find("b.two"));
  CHECK(registry.find("b__two")->name == "b.two");
  CHECK_FALSE(registry.find("c"));
  auto all = registry.list();
  REQUIRE(all.size() == 2);
  CHECK(all[0]->name == "a");
  CHECK(registry.remove("a"));
  CHECK_FALSE(registry.remove("a"));
  CHECK(registry.remove_prefix("b.") == 1);
  CHECK(registry.size() == 0);
  CHECK_FALSE(registry.find("b__two"));
}

TEST_CASE("registration refuses duplicates, wire-name clashes and bad tools") {
  ToolRegistry registry;
  REQUIRE(registry.add(echo("fs.read")).ok());
  Status dup = registry.add(echo("fs.read"));
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().message.find("already registered") != std::string::npos);
  Status clash = registry.add(echo("fs__read"));
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.error().message.find("same name as tool 'fs.read'") != std::string::npos);

  Tool no_handler = echo("x");
  no_handler.handler = nullptr;
  CHECK_FALSE(registry.add(no_handler).ok());
  Tool array_schema = echo("y");
  array_schema.parameters = {{"type", "array"}};
  CHECK_FALSE(registry.add(array_schema).ok());
  Tool negative = echo("z");
  negative.price_nanos = -1;
  CHECK_FALSE(registry.add(negative).ok());
  CHECK_FALSE(registry.add(echo("bad name")).ok());
}

TEST_CASE("a tool maps onto the provider's ToolDefinition") {
  Tool tool = echo("fs.read");
  auto definition = to_definition(tool);
  CHECK(definition.name == "fs__read");
  CHECK(definition.description == "echoes");
  CHECK(json::parse(definition.parameters) == tool.parameters);
  tool.parameters = json::object();
  CHECK(to_definition(tool).parameters.empty());
}

TEST_CASE("grants: built-ins need a grant, others need none, deny wins") {
  ToolGrants grants;
  Tool read = echo("fs.read", true);
  Tool mine = echo("weather");
  CHECK_FALSE(grants.allows(read));
  CHECK(grants.allows(mine));
  Status refused = grants.check(read);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::tool);
  CHECK(refused.error().message.find("--allow-tool fs.read") != std::string::npos);

  grants.allow("fs.*");
  CHECK(grants.allows(read));
  CHECK_FALSE(grants.allows(echo("fsx.read", true)));
  CHECK_FALSE(grants.allows(echo("shell.run", true)));
  grants.allow("shell.run");
  CHECK(grants.allows(echo("shell.run", true)));
  grants.deny("weather");
  CHECK_FALSE(grants.allows(mine));
  CHECK(grants.check(mine).error().message.find("turned off") != std::string::npos);
}

TEST_CASE("the registry is safe to use from several threads") {
  ToolRegistry registry;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&registry, &failures, t] {
      for (int i = 0; i < 100; ++i) {
        std::string name = "t" + std::to_string(t) + ".n" + std::to_string(i);
        if (!registry.add(echo(name)).ok() || !registry.find(name)) ++failures;
        (void)registry.list();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures == 0);
  CHECK(registry.size() == 400);
}
