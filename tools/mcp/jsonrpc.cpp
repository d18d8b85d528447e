#include "tools/mcp/jsonrpc.hpp"

#include "base/json_depth.hpp"

namespace perdiem::tools::mcp {
namespace {

using nlohmann::json;

Error bad(std::string message) {
  return make_error(ErrorKind::bad_response, std::move(message));
}

std::string dump(const json& message) {
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool valid_id(const json& id) {
  return id.is_number_integer() || id.is_string();
}

}  // namespace

Result<Incoming> parse_message(std::string_view line, std::size_t max_depth) {
  if (base::json_nests_deeper_than(line, max_depth)) {
    return bad("a message nests deeper than " + std::to_string(max_depth) + " levels");
  }
  json message = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) return bad("a line is not JSON");
  if (message.is_array()) return bad("a JSON-RPC batch (MCP stdio does not use batches)");
  if (!message.is_object()) return bad("a line is JSON but not a JSON-RPC object");
  auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0")
    return bad("a message lacks \"jsonrpc\": \"2.0\"");

  Incoming in;
  auto method = message.find("method");
  auto id = message.find("id");
  if (method != message.end()) {
    if (!method->is_string()) return bad("a message's method is not a string");
    in.method = method->get<std::string>();
    if (auto params = message.find("params"); params != message.end()) in.params = *params;
    if (id == message.end()) {
      in.kind = Incoming::Kind::notification;
      return in;
    }
    if (!valid_id(*id)) return bad("a request's id is neither a number nor a string");
    in.kind = Incoming::Kind::request;
    in.id = *id;
    return in;
  }
  if (id == message.end()) return bad("a message has neither a method nor an id");
  in.id = *id;
  if (auto result = message.find("result"); result != message.end()) {
    in.kind = Incoming::Kind::result;
    in.result = *result;
    return in;
  }
  auto error = message.find("error");
  if (error == message.end() || !error->is_object()) {
    return bad("a response has neither a result nor an error object");
  }
  in.kind = Incoming::Kind::error;
  auto code = error->find("code");
  in.error_code = code != error->end() && code->is_number_integer() ? code->get<int>() : 0;
  auto text = error->find("message");
  in.error_message = text != error->end() && text->is_string() ? text->get<std::string>() : "";
  if (auto data = error->find("data"); data != error->end()) in.error_data = *data;
  return in;
}

std::string request_line(std::int64_t id, std::string_view method, const json& params) {
  json message = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) message["params"] = params;
  return dump(message);
}

std::string notification_line(std::string_view method, const json& params) {
  json message = {{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) message["params"] = params;
  return dump(message);
}

std::string result_line(const json& id, const json& result) {
  return dump({{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}

std::string error_line(const json& id, int code, std::string_view message) {
  return dump({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

}  // namespace perdiem::tools::mcp
