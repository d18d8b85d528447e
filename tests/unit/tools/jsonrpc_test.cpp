// JSON-RPC framing: what the MCP client accepts from a server, and what it writes.
#include "tools/mcp/jsonrpc.hpp"

#include <doctest/doctest.h>

using namespace perdiem;
using namespace perdiem::tools::mcp;
using nlohmann::json;

TEST_CASE("requests, notifications, results and errors are told apart") {
  auto request = parse_message(R"({"jsonrpc":"2.0","id":7,"method":"ping"})");
  REQUIRE(request.ok());
  CHECK(request->kind == Incoming::Kind::request);
  CHECK(request->id == 7);
  auto note = parse_message(R"({"jsonrpc":"2.0","method":"notifications/x","params":{"a":1}})");
  REQUIRE(note.ok());
  CHECK(note->kind == Incoming::Kind::notification);
  CHECK(note->params["a"] == 1);
  auto result = parse_message(R"({"result":{"ok":true},"jsonrpc":"2.0","id":"s1"})");
  REQUIRE(result.ok());
  CHECK(result->kind == Incoming::Kind::result);
  CHECK(result->id == "s1");
  auto error = parse_message(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad"}})");
  REQUIRE(error.ok());
  CHECK(error->kind == Incoming::Kind::error);
  CHECK(error->error_code == kInvalidParams);
  CHECK(error->error_message == "bad");
}

TEST_CASE("nonsense is refused with a reason") {
  for (const char* line : {"this is not json", "[1,2]", "42", R"({"id":1,"result":{}})",
                           R"({"jsonrpc":"1.0","id":1,"result":{}})", R"({"jsonrpc":"2.0","id":1})",
                           R"({"jsonrpc":"2.0"})", R"({"jsonrpc":"2.0","id":{},"method":"x"})",
                           R"({"jsonrpc":"2.0","method":5})"}) {
    CAPTURE(line);
    auto parsed = parse_message(line);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().kind == ErrorKind::bad_response);
  }
  std::string deep = R"({"jsonrpc":"2.0","method":"x","params":)" + std::string(100, '[') +
                     std::string(100, ']') + "}";
  CHECK_FALSE(parse_message(deep).ok());
}

TEST_CASE("outgoing lines are single-line JSON-RPC 2.0") {
  std::string line = request_line(1, "tools/call", {{"name", "a\nb"}});
  CHECK(line.find('\n') == std::string::npos);
  CHECK(json::parse(line) == json{{"jsonrpc", "2.0"},
                                  {"id", 1},
                                  {"method", "tools/call"},
                                  {"params", {{"name", "a\nb"}}}});
  CHECK(json::parse(notification_line("notifications/initialized", nullptr)) ==
        json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  CHECK(json::parse(result_line(5, json::object()))["result"] == json::object());
  CHECK(json::parse(error_line("x", kMethodNotFound, "no"))["error"]["code"] == -32601);
  CHECK_NOTHROW(request_line(1, "m", {{"bad", "\xFF"}}));
}
