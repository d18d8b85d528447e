// The mock provider's reading of an Anthropic Messages request: enough of the format for
// the sim to answer it (text, tool use and tool results), strict about the shape.
#include <limits>

#include "runtime/providers/mock_answer.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers::mock {
namespace {

using wire::Json;
using wire::member;
using wire::string_member;

Error invalid(std::string message) {
  return make_error(ErrorKind::invalid_argument, std::move(message));
}

// A string content, or an array of blocks: text blocks become the message's text,
// tool_use blocks its tool calls, tool_result blocks separate "tool" messages.
Status read_message(const Json& m, std::vector<Message>& out) {
  const std::string role = string_member(m, "role");
  if (role != "user" && role != "assistant")
    return invalid("messages: each role must be \"user\" or \"assistant\"");
  const Json* content = member(m, "content");
  if (content != nullptr && content->is_string()) {
    out.push_back(Message{role, content->get<std::string>()});
    return Status::success();
  }
  if (content == nullptr || !content->is_array())
    return invalid("messages: content must be a string or an array of blocks");
  Message message{role, ""};
  for (const Json& block : *content) {
    const std::string type = string_member(block, "type");
    if (type == "text") {
      message.content += string_member(block, "text");
    } else if (type == "tool_use") {
      const Json* input = member(block, "input");
      message.tool_calls.push_back(ToolCall{string_member(block, "id"),
                                            string_member(block, "name"),
                                            input ? wire::dump(*input) : "{}"});
    } else if (type == "tool_result") {
      const Json* result = member(block, "content");
      std::string text;
      if (result != nullptr && result->is_string()) {
        text = result->get<std::string>();
      } else if (result != nullptr && result->is_array()) {
        for (const Json& part : *result) text += string_member(part, "text");
      }
      Message tool{"tool", std::move(text)};
      tool.tool_call_id = string_member(block, "tool_use_id");
      out.push_back(std::move(tool));
    } else {
      return invalid("messages: unknown content block type '" + type + "'");
    }
  }
  if (!message.content.empty() || !message.tool_calls.empty()) out.push_back(std::move(message));
  return Status::success();
}

}  // namespace

Result<WireChatRequest> decode_anthropic_request(std::string_view body) {
  const std::optional<Json> doc = wire::parse(body);
  if (!doc || !doc->is_object()) return invalid("The request body is not valid JSON.");
  WireChatRequest decoded;
  ChatRequest& request = decoded.request;
  request.model = string_member(*doc, "model");
  if (request.model.empty()) return invalid("model: Field required");
  const Json* max_tokens = member(*doc, "max_tokens");
  if (max_tokens == nullptr || !max_tokens->is_number_integer() ||
      max_tokens->get<std::int64_t>() < 1 ||
      max_tokens->get<std::int64_t>() > std::numeric_limits<int>::max())
    return invalid("max_tokens: Field required, a positive integer");
  request.max_tokens = static_cast<int>(max_tokens->get<std::int64_t>());
  if (const Json* system = member(*doc, "system"); system != nullptr) {
    std::string text;
    if (system->is_string()) {
      text = system->get<std::string>();
    } else if (system->is_array()) {
      for (const Json& block : *system) text += string_member(block, "text");
    }
    if (!text.empty()) request.messages.push_back(Message{"system", std::move(text)});
  }
  const Json* messages = member(*doc, "messages");
  if (messages == nullptr || !messages->is_array()) return invalid("messages: Field required");
  for (const Json& m : *messages) {
    if (Status s = read_message(m, request.messages); !s.ok()) return s.error();
  }
  if (const Json* t = member(*doc, "temperature"); t != nullptr && t->is_number())
    request.temperature = t->get<double>();
  if (const Json* tools = member(*doc, "tools"); tools != nullptr && tools->is_array()) {
    for (const Json& tool : *tools) {
      ToolDefinition definition{string_member(tool, "name")};
      definition.description = string_member(tool, "description");
      if (const Json* schema = member(tool, "input_schema"); schema != nullptr)
        definition.parameters = wire::dump(*schema);
      request.tools.push_back(std::move(definition));
    }
  }
  if (const Json* choice = member(*doc, "tool_choice"); choice != nullptr) {
    const std::string type = string_member(*choice, "type");
    request.tool_choice = type == "any"    ? "required"
                          : type == "tool" ? string_member(*choice, "name")
                                           : type;
  }
  if (const Json* s = member(*doc, "stream"); s != nullptr && !s->is_null()) {
    if (!s->is_boolean()) return invalid("stream: Input should be a valid boolean");
    decoded.stream = s->get<bool>();
  }
  return decoded;
}

}  // namespace perdiem::providers::mock
