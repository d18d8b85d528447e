#include "runtime/providers/anthropic_codec.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace perdiem::providers {

using wire::Json;
using wire::member;
using wire::string_member;

namespace {

// A tool call's arguments as the object tool_use.input must be.
Json arguments_object(std::string_view arguments) {
  std::optional<Json> parsed = wire::parse(arguments);
  if (parsed && parsed->is_object()) return std::move(*parsed);
  return Json::object();
}

bool is_system(const Message& m) {
  return m.role == "system" || m.role == "developer";
}

Json blocks_of(const Message& m) {
  Json blocks = Json::array();
  if (m.role == "tool") {
    blocks.push_back(
        {{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}});
    return blocks;
  }
  // The API refuses empty text blocks.
  if (!m.content.empty()) blocks.push_back({{"type", "text"}, {"text", m.content}});
  if (m.role == "assistant") {
    for (const ToolCall& call : m.tool_calls) {
      blocks.push_back({{"type", "tool_use"},
                        {"id", call.id},
                        {"name", call.name},
                        {"input", arguments_object(call.arguments)}});
    }
  }
  return blocks;
}

// Appends `blocks` to a turn, keeping tool results ahead of everything else: the API
// wants a user turn's tool_result blocks first.
void merge_into(Json& content, Json blocks) {
  for (Json& block : blocks) {
    if (string_member(block, "type") == "tool_result") {
      auto at = std::find_if(content.begin(), content.end(), [](const Json& b) {
        return string_member(b, "type") != "tool_result";
      });
      content.insert(at, std::move(block));
    } else {
      content.push_back(std::move(block));
    }
  }
}

Json tool_choice(const std::string& choice) {
  if (choice == "auto") return {{"type", "auto"}};
  if (choice == "required") return {{"type", "any"}};
  if (choice == "none") return {{"type", "none"}};
  return {{"type", "tool"}, {"name", choice}};
}

Result<ChatResponse> decode_message(const Json& doc, const std::string& provider) {
  const Json* content = member(doc, "content");
  if (content == nullptr || !content->is_array()) {
    return wire::bad_response("the response has no content array", provider);
  }
  ChatResponse response;
  response.provider = provider;
  response.model = string_member(doc, "model");
  response.finish_reason = anthropic::finish_reason(string_member(doc, "stop_reason"));
  for (const Json& block : *content) {
    const std::string type = string_member(block, "type");
    if (type == "text") {
      response.content += string_member(block, "text");
    } else if (type == "tool_use") {
      if (response.tool_calls.size() == kMaxToolCalls) {
        return wire::bad_response(
            "the response has more than " + std::to_string(kMaxToolCalls) + " tool calls",
            provider);
      }
      const Json* input = member(block, "input");
      response.tool_calls.push_back(
          ToolCall{string_member(block, "id"), string_member(block, "name"),
                   input != nullptr && !input->is_null() ? wire::dump(*input) : std::string("{}")});
    }
    // thinking, redacted_thinking and server-tool blocks carry no answer text.
  }
  if (const Json* usage = member(doc, "usage"); usage != nullptr && !usage->is_null()) {
    std::optional<Usage> decoded = anthropic::decode_usage(*usage);
    if (!decoded) {
      return wire::bad_response("the response's usage is not a set of token counts", provider);
    }
    response.usage = *decoded;
  }
  return response;
}

}  // namespace

std::string encode_anthropic_request(const ChatRequest& request,
                                     const AnthropicEncodeOptions& options) {
  Json body;
  body["model"] = request.model;
  body["max_tokens"] = request.max_tokens ? *request.max_tokens : options.default_max_tokens;
  std::string system;
  Json messages = Json::array();
  for (const Message& m : request.messages) {
    if (is_system(m)) {
      if (!system.empty()) system += "\n\n";
      system += m.content;
      continue;
    }
    Json blocks = blocks_of(m);
    if (blocks.empty()) continue;
    const char* role = m.role == "assistant" ? "assistant" : "user";
    if (!messages.empty() && messages.back()["role"] == role) {
      merge_into(messages.back()["content"], std::move(blocks));
    } else {
      messages.push_back({{"role", role}, {"content", std::move(blocks)}});
    }
  }
  if (!system.empty()) body["system"] = system;
  body["messages"] = std::move(messages);
  if (request.temperature) body["temperature"] = *request.temperature;
  if (!request.tools.empty()) {
    Json& tools = body["tools"] = Json::array();
    for (const ToolDefinition& tool : request.tools) {
      Json entry = {{"name", tool.name}};
      if (!tool.description.empty()) entry["description"] = tool.description;
      std::optional<Json> schema = wire::schema_object(tool.parameters);
      entry["input_schema"] = schema ? std::move(*schema) : *wire::schema_object("");
      tools.push_back(std::move(entry));
    }
  }
  if (!request.tool_choice.empty()) body["tool_choice"] = tool_choice(request.tool_choice);
  if (options.stream) body["stream"] = true;
  return wire::dump(body);
}

Result<ChatResponse> decode_anthropic_response(long http_status, std::string_view body,
                                               const std::string& provider_name) {
  Result<Json> doc = wire::parse_response(http_status, body, provider_name);
  if (!doc) return doc.error();
  if (string_member(*doc, "type") == "error") return anthropic::in_band_error(*doc, provider_name);
  return decode_message(*doc, provider_name);
}

std::vector<std::pair<std::string, std::string>> anthropic_request_headers(
    std::string_view api_key) {
  return {{"x-api-key", std::string(api_key)},
          {"anthropic-version", std::string(kAnthropicVersion)},
          {"content-type", "application/json"}};
}

namespace anthropic {

std::string finish_reason(std::string_view stop_reason) {
  if (stop_reason == "end_turn" || stop_reason == "stop_sequence") return "stop";
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return "length";
  }
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  return std::string(stop_reason);
}

std::optional<Usage> decode_usage(const Json& usage) {
  if (!usage.is_object()) return std::nullopt;
  const auto input = wire::token_count(usage, "input_tokens");
  const auto output = wire::token_count(usage, "output_tokens");
  const auto written = wire::token_count(usage, "cache_creation_input_tokens");
  const auto read = wire::token_count(usage, "cache_read_input_tokens");
  if (!input || !output || !written || !read) return std::nullopt;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  if (*written > kMax - *input || *read > kMax - *input - *written) return std::nullopt;
  Usage out;
  out.input_tokens = *input + *written + *read;
  out.output_tokens = *output;
  out.cached_input_tokens = *read;
  out.cache_write_input_tokens = *written;
  return out;
}

long status_for_error_type(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "authentication_error") return 401;
  if (type == "permission_error") return 403;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "overloaded_error") return 529;
  return 500;  // api_error, and types newer than this code
}

Error in_band_error(const Json& doc, const std::string& provider_name) {
  const Json* error = member(doc, "error");
  const std::string type = error != nullptr ? string_member(*error, "type") : std::string();
  return wire::http_error(status_for_error_type(type), wire::error_detail(doc), provider_name);
}

std::string stop_reason(std::string_view finish_reason) {
  if (finish_reason == "stop") return "end_turn";
  if (finish_reason == "length") return "max_tokens";
  if (finish_reason == "tool_calls") return "tool_use";
  if (finish_reason == "content_filter") return "refusal";
  return std::string(finish_reason);
}

Json encode_usage(const Usage& usage) {
  const std::int64_t uncached = std::max<std::int64_t>(
      0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_input_tokens);
  return {{"input_tokens", uncached},
          {"cache_creation_input_tokens", usage.cache_write_input_tokens},
          {"cache_read_input_tokens", usage.cached_input_tokens},
          {"output_tokens", usage.output_tokens}};
}

}  // namespace anthropic

std::string encode_anthropic_response(const ChatResponse& response, std::string_view id) {
  Json content = Json::array();
  if (!response.content.empty()) content.push_back({{"type", "text"}, {"text", response.content}});
  for (const ToolCall& call : response.tool_calls) {
    content.push_back({{"type", "tool_use"},
                       {"id", call.id},
                       {"name", call.name},
                       {"input", arguments_object(call.arguments)}});
  }
  const Json body = {{"id", id},
                     {"type", "message"},
                     {"role", "assistant"},
                     {"model", response.model},
                     {"content", std::move(content)},
                     {"stop_reason", anthropic::stop_reason(response.finish_reason)},
                     {"stop_sequence", nullptr},
                     {"usage", anthropic::encode_usage(response.usage)}};
  return wire::dump(body);
}

std::string encode_anthropic_error_body(std::string_view type, std::string_view message) {
  return wire::dump({{"type", "error"}, {"error", {{"type", type}, {"message", message}}}});
}

}  // namespace perdiem::providers
