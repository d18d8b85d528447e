// The MCP client against a scripted Node server: handshake, paginated listing, calls,
// server requests and notifications, timeouts, crashes and nonsense.
#include "tools/mcp/mcp_client.hpp"

#include <doctest/doctest.h>

#include <chrono>

#include "tools/executor.hpp"
#include "tools/mcp/mcp_tools.hpp"
#include "unit/tools/mcp_support.hpp"

using namespace perdiem;
using namespace perdiem::tools;
using namespace perdiem::tools::mcp;
using nlohmann::json;
using perdiem::testing::fake_server;
using std::chrono::milliseconds;

namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::shared_ptr<McpClient> start(const std::string& mode, McpClientOptions options = {}) {
  auto client = McpClient::start(fake_server(mode), options);
  if (!client.ok()) FAIL(client.error().describe());
  return *client;
}

}  // namespace

TEST_CASE("handshake, paginated tools/list and tools/call") {
  auto client = start("good");
  CHECK(client->protocol_version() == "2025-06-18");
  CHECK(client->server_info()["name"] == "fake");
  CHECK(client->alive());

  auto tools = client->list_tools();
  REQUIRE(tools.ok());
  REQUIRE(tools->size() == 5);  // two pages
  CHECK((*tools)[0].name == "shout");
  CHECK((*tools)[0].input_schema["required"] == json{"text"});
  CHECK((*tools)[4].name == "bad/name");
  CHECK(client->tools_changed());  // the server sent notifications/tools/list_changed

  auto shouted = client->call_tool("shout", {{"text", "hi"}});
  REQUIRE(shouted.ok());
  CHECK(tool_result_from_mcp(*shouted, "fake.shout").value() == "HI");

  // The server's ping got an empty result; its sampling request, method-not-found.
  auto replies = client->call_tool("replies", json::object());
  REQUIRE(replies.ok());
  json seen = tool_result_from_mcp(*replies, "fake.replies").value();
  CHECK(seen["1000"] == json{{"result", json::object()}});
  CHECK(seen["1001"] == json{{"error", -32601}});

  auto unknown = client->call_tool("nope", json::object());
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().kind == ErrorKind::invalid_argument);
  CHECK(contains(unknown.error().message, "Unknown tool: nope"));
  CHECK(client->alive());  // a JSON-RPC error is an answer, not a broken server
}

TEST_CASE("MCP tools register as server.tool and run through the executor") {
  auto client = start("good");
  ToolRegistry registry;
  auto registration = register_mcp_tools(registry, client);
  REQUIRE(registration.ok());
  CHECK(registration->registered ==
        std::vector<std::string>{"fake.shout", "fake.fail", "fake.slow", "fake.replies"});
  REQUIRE(registration->skipped.size() == 1);
  CHECK(contains(registration->skipped[0], "bad/name"));

  ToolExecutor executor(registry, ToolGrants{});
  auto ok = executor.call({"c1", "fake__shout", R"({"text":"quiet"})"}, {});
  CHECK(ok.content == "QUIET");
  auto invalid = executor.call({"c2", "fake.shout", R"({})"}, {});
  CHECK(contains(invalid.content, "$.text: required property missing"));
  auto failed = executor.call({"c3", "fake.fail", "{}"}, {});
  CHECK(failed.is_error);
  CHECK(failed.content == "error: the database is locked");
  CHECK(registry.remove_prefix("fake.") == 4);
}

TEST_CASE("several calls in flight at once get their own answers") {
  auto client = start("good");
  std::vector<std::thread> threads;
  std::vector<std::string> answers(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = client->call_tool("shout", {{"text", "t" + std::to_string(i)}});
      answers[i] = r.ok() ? tool_result_from_mcp(*r, "x").value().get<std::string>() : "fail";
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) CHECK(answers[i] == "T" + std::to_string(i));
}

TEST_CASE("a request past its timeout fails, and the late answer is ignored") {
  auto client = start("good");
  auto start_time = std::chrono::steady_clock::now();
  auto slow = client->call_tool("slow", json::object(), milliseconds(200));
  CHECK(std::chrono::steady_clock::now() - start_time < milliseconds(2000));
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().kind == ErrorKind::timeout);
  CHECK(slow.error().message == "MCP server 'fake' did not answer tools/call within 200 ms");
  // The server answers 1 s after the call; meanwhile and after, the connection stays usable.
  CHECK(client->call_tool("shout", {{"text", "x"}}).ok());
  std::this_thread::sleep_for(milliseconds(1200));
  CHECK(client->alive());
  CHECK(client->call_tool("shout", {{"text", "x"}}).ok());
}

TEST_CASE("a server that crashes mid-call: a clear error with its exit status and stderr") {
  auto client = start("crash-on-call");
  auto crashed = client->call_tool("shout", {{"text", "x"}});
  REQUIRE_FALSE(crashed.ok());
  CHECK(contains(crashed.error().message, "MCP server 'fake' exited with status 3"));
  CHECK(contains(crashed.error().message, "panic: tool crashed"));
  CHECK_FALSE(client->alive());
  auto later = client->call_tool("shout", {{"text", "x"}});
  REQUIRE_FALSE(later.ok());
  CHECK(contains(later.error().message, "exited with status 3"));
}

TEST_CASE("a server that exits at start fails start() with its stderr") {
  auto client = McpClient::start(fake_server("exit-at-start"));
  REQUIRE_FALSE(client.ok());
  CHECK(contains(client.error().message, "exited with status 2"));
  CHECK(contains(client.error().message, "fatal: missing API token"));
}

TEST_CASE("a command that does not exist fails start() naming the config") {
  McpServerConfig config;
  config.name = "ghost";
  config.command = "perdiem-no-such-mcp-server";
  auto client = McpClient::start(config);
  REQUIRE_FALSE(client.ok());
  CHECK(client.error().kind == ErrorKind::config);
  CHECK(contains(client.error().message, "MCP server 'ghost' cannot be started"));
}

TEST_CASE("a server that writes nonsense is broken, with the line quoted") {
  auto client = start("nonsense-on-call");
  auto answer = client->call_tool("shout", {{"text", "x"}});
  REQUIRE_FALSE(answer.ok());
  CHECK(answer.error().kind == ErrorKind::bad_response);
  CHECK(contains(answer.error().message, "a line is not JSON: 'this is not json'"));
  CHECK_FALSE(client->alive());
}

TEST_CASE("a server that answers the wrong id is broken") {
  auto client = start("wrong-id");
  auto answer = client->call_tool("shout", {{"text", "x"}});
  REQUIRE_FALSE(answer.ok());
  CHECK(contains(answer.error().message, "answered id 999, which no request in flight has"));
}

TEST_CASE("an unsupported protocol version and a silent server fail start()") {
  auto old = McpClient::start(fake_server("old-version"));
  REQUIRE_FALSE(old.ok());
  CHECK(contains(old.error().message, "speaks MCP version 1999-01-01"));

  McpClientOptions options;
  options.startup_timeout = milliseconds(300);
  auto silent = McpClient::start(fake_server("silent"), options);
  REQUIRE_FALSE(silent.ok());
  CHECK(silent.error().kind == ErrorKind::timeout);
  CHECK(contains(silent.error().message, "did not answer initialize within 300 ms"));
}

TEST_CASE("the server gets only the inherited variables it is allowed, plus its env") {
  ::setenv("PERDIEM_TEST_API_KEY", "sk-secret", 1);
  McpServerConfig config = fake_server("good");
  config.command = "/bin/sh";
  config.args = {"-c", "env >&2; exit 1"};
  config.env = {{"SERVER_TOKEN", "given"}};
  auto client = McpClient::start(config);
  REQUIRE_FALSE(client.ok());
  CHECK(contains(client.error().message, "SERVER_TOKEN=given"));
  CHECK_FALSE(contains(client.error().message, "sk-secret"));
}

TEST_CASE("content blocks map to text; isError to a tool error") {
  json mixed = json::parse(R"({"content":[{"type":"text","text":"a"},
    {"type":"image","data":"...","mimeType":"image/png"},
    {"type":"resource","resource":{"uri":"file:///x","text":"inline"}},
    {"type":"resource_link","uri":"file:///y","name":"y"}]})");
  CHECK(tool_result_from_mcp(mixed, "s.t").value() ==
        "a\n[image: image/png]\ninline\n[resource link: file:///y]");
  json structured = json::parse(R"({"content":[],"structuredContent":{"n":1}})");
  CHECK(tool_result_from_mcp(structured, "s.t").value() == json{{"n", 1}});
  auto error = tool_result_from_mcp(json::parse(R"({"content":[{"type":"text","text":"no"}],
    "isError":true})"),
                                    "s.t");
  REQUIRE_FALSE(error.ok());
  CHECK(error.error().kind == ErrorKind::tool);
  CHECK(error.error().message == "no");
  CHECK(error.error().source == "s.t");
  CHECK_FALSE(tool_result_from_mcp(json("x"), "s.t").ok());
}
