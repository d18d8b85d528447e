#include "runtime/providers/openai_codec.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

namespace perdiem::providers {

using wire::Json;
using wire::member;
using wire::string_member;

namespace {

// Message content: a string, null, or (newer APIs) an array of parts whose text parts
// are joined. Anything else is not content.
std::optional<std::string> content_text(const Json* content) {
  if (content == nullptr || content->is_null()) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return std::nullopt;
  std::string joined;
  for (const Json& part : *content) {
    if (const Json* t = member(part, "text"); t != nullptr && t->is_string()) {
      joined += t->get_ref<const std::string&>();
    }
  }
  return joined;
}

Json encode_message(const Message& m) {
  Json out;
  out["role"] = m.role;
  if (m.role == "assistant" && !m.tool_calls.empty()) {
    out["content"] = m.content.empty() ? Json(nullptr) : Json(m.content);
    Json& calls = out["tool_calls"] = Json::array();
    for (const ToolCall& call : m.tool_calls) {
      calls.push_back({{"id", call.id},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
    }
    return out;
  }
  out["content"] = m.content;
  if (m.role == "tool") out["tool_call_id"] = m.tool_call_id;
  return out;
}

Json schema_or_empty(std::string_view text) {
  std::optional<Json> schema = wire::schema_object(text);
  return schema ? std::move(*schema) : *wire::schema_object("");
}

Json encode_body(const ChatRequest& request, bool stream) {
  Json body;
  body["model"] = request.model;
  Json& messages = body["messages"] = Json::array();
  for (const Message& m : request.messages) messages.push_back(encode_message(m));
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  if (request.temperature) body["temperature"] = *request.temperature;
  if (!request.tools.empty()) {
    Json& tools = body["tools"] = Json::array();
    for (const ToolDefinition& tool : request.tools) {
      Json function = {{"name", tool.name}};
      if (!tool.description.empty()) function["description"] = tool.description;
      function["parameters"] = schema_or_empty(tool.parameters);
      tools.push_back({{"type", "function"}, {"function", std::move(function)}});
    }
  }
  const std::string& choice = request.tool_choice;
  if (choice == "auto" || choice == "none" || choice == "required") {
    body["tool_choice"] = choice;
  } else if (!choice.empty()) {
    body["tool_choice"] = {{"type", "function"}, {"function", {{"name", choice}}}};
  }
  if (request.response_format) {
    const ResponseFormat& format = *request.response_format;
    body["response_format"] = {{"type", "json_schema"},
                               {"json_schema",
                                {{"name", format.name},
                                 {"schema", schema_or_empty(format.schema)},
                                 {"strict", format.strict}}}};
  }
  body["stream"] = stream;
  if (stream) body["stream_options"] = {{"include_usage", true}};
  return body;
}

Result<ChatResponse> decode_success(const Json& doc, std::size_t body_size,
                                    const std::string& provider) {
  const Json* choices = member(doc, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) {
    if (const Json* error = member(doc, "error"); error != nullptr && !error->is_null()) {
      return openai::in_band_error(doc, provider);
    }
    return wire::bad_response(
        "the response has no choices (" + std::to_string(body_size) + " bytes)", provider);
  }
  const Json& choice = (*choices)[0];
  const Json* message = member(choice, "message");
  if (message == nullptr || !message->is_object()) {
    return wire::bad_response("the response's first choice has no message", provider);
  }
  std::optional<std::string> content = content_text(member(*message, "content"));
  if (!content) return wire::bad_response("the response's message content is not text", provider);

  ChatResponse response;
  response.content = std::move(*content);
  if (const Json* calls = member(*message, "tool_calls"); calls != nullptr && calls->is_array()) {
    if (calls->size() > kMaxToolCalls) {
      return wire::bad_response(
          "the response has more than " + std::to_string(kMaxToolCalls) + " tool calls", provider);
    }
    for (const Json& call : *calls) response.tool_calls.push_back(openai::decode_tool_call(call));
  } else if (const Json* legacy = member(*message, "function_call");
             legacy != nullptr && legacy->is_object()) {
    // The pre-tools API: one call, no id, name and arguments at the top level.
    response.tool_calls.push_back(openai::decode_tool_call(Json{{"function", *legacy}}));
  }
  response.finish_reason = string_member(choice, "finish_reason");
  response.model = string_member(doc, "model");
  response.provider = provider;
  if (const Json* usage = member(doc, "usage"); usage != nullptr && !usage->is_null()) {
    std::optional<Usage> decoded = openai::decode_usage(*usage);
    if (!decoded) {
      return wire::bad_response("the response's usage is not a set of token counts", provider);
    }
    response.usage = *decoded;
    if (const Json* cost = member(*usage, "cost"); cost != nullptr) {
      response.provider_cost_nanos = wire::usd_to_nanos(*cost);
    }
  }
  return response;
}

}  // namespace

namespace openai {

Json encode_usage(const Usage& usage) {
  Json out = {{"prompt_tokens", usage.input_tokens},
              {"completion_tokens", usage.output_tokens},
              {"total_tokens", usage.input_tokens + usage.output_tokens}};
  if (usage.cached_input_tokens > 0 || usage.cache_write_input_tokens > 0) {
    out["prompt_tokens_details"] = {{"cached_tokens", usage.cached_input_tokens}};
    if (usage.cache_write_input_tokens > 0) {
      out["prompt_tokens_details"]["cache_write_tokens"] = usage.cache_write_input_tokens;
    }
  }
  return out;
}

std::optional<Usage> decode_usage(const Json& usage) {
  if (!usage.is_object()) return std::nullopt;
  const auto input = wire::token_count(usage, "prompt_tokens");
  const auto output = wire::token_count(usage, "completion_tokens");
  std::optional<std::int64_t> cached = 0;
  std::optional<std::int64_t> written = 0;
  if (const Json* details = member(usage, "prompt_tokens_details");
      details != nullptr && details->is_object()) {
    cached = wire::token_count(*details, "cached_tokens");
    written = wire::token_count(*details, "cache_write_tokens");  // OpenRouter
  }
  if (!input || !output || !cached || !written) return std::nullopt;
  Usage out;
  out.input_tokens = *input;
  out.output_tokens = *output;
  // The cached parts are parts of the prompt; a server claiming more is clamped rather
  // than trusted, so the cheap cached price never covers more tokens than were sent.
  out.cached_input_tokens = std::min(*cached, *input);
  out.cache_write_input_tokens = std::min(*written, *input - out.cached_input_tokens);
  return out;
}

Error in_band_error(const Json& doc, const std::string& provider_name) {
  long status = 502;
  const Json* error = member(doc, "error");
  const Json* code = error != nullptr ? member(*error, "code") : nullptr;
  if (code != nullptr && code->is_number_integer()) {
    const auto c = code->get<std::int64_t>();
    if (c >= 400 && c <= 599) status = static_cast<long>(c);
  } else if (error != nullptr) {
    const std::string said = string_member(*error, "code") + " " + string_member(*error, "type");
    if (said.find("rate_limit") != std::string::npos) status = 429;
  }
  return wire::http_error(status, wire::error_detail(doc), provider_name);
}

ToolCall decode_tool_call(const Json& call) {
  ToolCall out;
  out.id = string_member(call, "id");
  if (const Json* function = member(call, "function"); function != nullptr) {
    out.name = string_member(*function, "name");
    if (const Json* arguments = member(*function, "arguments"); arguments != nullptr) {
      if (arguments->is_string()) {
        out.arguments = arguments->get<std::string>();
      } else if (!arguments->is_null()) {
        out.arguments = wire::dump(*arguments);  // some servers send an object
      }
    }
  }
  return out;
}

}  // namespace openai

std::string encode_chat_request(const ChatRequest& request) {
  return wire::dump(encode_body(request, /*stream=*/false));
}

std::string encode_chat_stream_request(const ChatRequest& request) {
  return wire::dump(encode_body(request, /*stream=*/true));
}

Result<ChatResponse> decode_chat_response(long http_status, std::string_view body,
                                          const std::string& provider_name) {
  Result<Json> doc = wire::parse_response(http_status, body, provider_name);
  if (!doc) return doc.error();
  return decode_success(*doc, body.size(), provider_name);
}

Result<WireChatRequest> decode_chat_request(std::string_view body) {
  auto invalid = [](std::string message) {
    return make_error(ErrorKind::invalid_argument, std::move(message));
  };
  const std::optional<Json> doc = wire::parse(body);
  if (!doc || !doc->is_object()) {
    return invalid("We could not parse the JSON body of your request.");
  }
  WireChatRequest decoded;
  ChatRequest& request = decoded.request;
  if (const Json* model = member(*doc, "model"); model != nullptr && !model->is_null()) {
    if (!model->is_string()) return invalid("'model' must be a string");
    request.model = model->get<std::string>();
  }
  const Json* messages = member(*doc, "messages");
  if (messages == nullptr || !messages->is_array()) {
    return invalid("'messages' is a required property and must be an array");
  }
  for (const Json& m : *messages) {
    const Json* role = member(m, "role");
    std::optional<std::string> content = content_text(member(m, "content"));
    if (role == nullptr || !role->is_string() || !content) {
      return invalid("each message needs a string 'role' and text 'content'");
    }
    Message message{role->get<std::string>(), std::move(*content)};
    message.tool_call_id = string_member(m, "tool_call_id");
    if (const Json* calls = member(m, "tool_calls"); calls != nullptr && calls->is_array()) {
      for (const Json& call : *calls) message.tool_calls.push_back(openai::decode_tool_call(call));
    }
    request.messages.push_back(std::move(message));
  }
  // Newer clients send max_completion_tokens; both mean the same cap here.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    const Json* cap = member(*doc, name);
    if (cap == nullptr || cap->is_null()) continue;
    if (!cap->is_number_integer() || cap->get<std::int64_t>() < 0 ||
        cap->get<std::int64_t>() > std::numeric_limits<int>::max()) {
      return invalid(std::string("'") + name + "' must be a non-negative integer");
    }
    request.max_tokens = static_cast<int>(cap->get<std::int64_t>());
  }
  if (const Json* t = member(*doc, "temperature"); t != nullptr && !t->is_null()) {
    if (!t->is_number()) return invalid("'temperature' must be a number");
    request.temperature = t->get<double>();
  }
  if (const Json* stream = member(*doc, "stream"); stream != nullptr && !stream->is_null()) {
    if (!stream->is_boolean()) return invalid("'stream' must be a boolean");
    decoded.stream = stream->get<bool>();
  }
  if (const Json* tools = member(*doc, "tools"); tools != nullptr && tools->is_array()) {
    for (const Json& tool : *tools) {
      const Json* function = member(tool, "function");
      if (function == nullptr) return invalid("each tool needs a 'function'");
      ToolDefinition definition{string_member(*function, "name")};
      definition.description = string_member(*function, "description");
      if (const Json* p = member(*function, "parameters"); p != nullptr && p->is_object()) {
        definition.parameters = wire::dump(*p);
      }
      request.tools.push_back(std::move(definition));
    }
  }
  if (const Json* choice = member(*doc, "tool_choice"); choice != nullptr) {
    if (choice->is_string()) {
      request.tool_choice = choice->get<std::string>();
    } else if (const Json* f = member(*choice, "function"); f != nullptr) {
      request.tool_choice = string_member(*f, "name");
    }
  }
  return decoded;
}

std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                 std::int64_t created) {
  Json body;
  body["id"] = id;
  body["object"] = "chat.completion";
  body["created"] = created;
  body["model"] = response.model;
  Message message{"assistant", response.content};
  message.tool_calls = response.tool_calls;
  body["choices"] = Json::array({{{"index", 0},
                                  {"message", encode_message(message)},
                                  {"finish_reason", response.finish_reason}}});
  body["usage"] = openai::encode_usage(response.usage);
  return wire::dump(body);
}

std::string encode_error_body(std::string_view message, std::string_view type,
                              std::string_view code) {
  Json error;
  error["message"] = message;
  error["type"] = type;
  error["code"] = code.empty() ? Json(nullptr) : Json(code);
  return wire::dump({{"error", error}});
}

}  // namespace perdiem::providers
