#include "runtime/providers/openai_codec.hpp"

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "runtime/providers/text.hpp"

namespace perdiem::providers {

namespace {

using nlohmann::json;

// Invalid UTF-8 from a plan or a model must not turn into an exception at dump time.
std::string dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

// True when `body` nests arrays/objects deeper than `limit`. A cheap scan before the
// parser, so hostile input costs no recursion and no allocation.
bool nests_deeper_than(std::string_view body, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// The parsed document, or nullopt for invalid or too deeply nested JSON.
std::optional<json> parse(std::string_view body) {
  if (nests_deeper_than(body, kMaxJsonDepth)) return std::nullopt;
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

const json* member(const json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string string_member(const json& object, const char* name) {
  const json* value = member(object, name);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

// Message content: a string, null, or (newer APIs) an array of parts whose text parts
// are joined. Anything else is not content.
std::optional<std::string> content_text(const json* content) {
  if (content == nullptr || content->is_null()) return std::string();
  if (content->is_string()) return content->get<std::string>();
  if (!content->is_array()) return std::nullopt;
  std::string joined;
  for (const json& part : *content) {
    if (const json* t = member(part, "text"); t != nullptr && t->is_string()) {
      joined += t->get_ref<const std::string&>();
    }
  }
  return joined;
}

// A token count: absent or null -> 0; a negative, fractional or non-number value is
// refused, because the wallet charges by these numbers.
std::optional<std::int64_t> token_count(const json& usage, const char* name) {
  const json* value = member(usage, name);
  if (value == nullptr || value->is_null()) return 0;
  if (value->is_number_unsigned()) {
    const auto n = value->get<std::uint64_t>();
    if (n <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return static_cast<std::int64_t>(n);
    }
    return std::nullopt;
  }
  if (value->is_number_integer() && value->get<std::int64_t>() >= 0) {
    return value->get<std::int64_t>();
  }
  return std::nullopt;
}

// The provider's own words from an error body: {"error":{"message"}}, {"error":"..."}
// (Ollama), {"message"} or {"detail"} (FastAPI servers). "" when there are none.
std::string error_detail(const json& doc) {
  if (const json* error = member(doc, "error"); error != nullptr) {
    if (error->is_string()) return error->get<std::string>();
    if (std::string message = string_member(*error, "message"); !message.empty()) {
      return message;
    }
  }
  if (std::string message = string_member(doc, "message"); !message.empty()) return message;
  return string_member(doc, "detail");
}

Error error_for_status(long status, std::string_view detail, const std::string& provider) {
  ErrorKind kind = ErrorKind::provider;
  bool retryable = false;
  std::string what;
  if (status == 401 || status == 403) {
    kind = ErrorKind::auth;
    what = "the provider rejected the credentials";
  } else if (status == 429) {
    kind = ErrorKind::rate_limited;
    retryable = true;
    what = "the provider is rate limiting requests";
  } else if (status == 408 || (status >= 500 && status <= 599)) {
    retryable = true;
    what = "the provider failed to answer";
  } else if (status == 400 || status == 404 || status == 422) {
    what = "the provider rejected the request";
  } else {
    what = "the provider answered with an error";
  }
  std::string message = what + " (HTTP " + std::to_string(status) + ")";
  if (!detail.empty()) message += ": " + text::excerpt(detail, kMaxQuotedErrorChars);
  return make_error(kind, std::move(message), provider, retryable);
}

Error bad_response(std::string message, const std::string& provider) {
  return make_error(ErrorKind::bad_response, std::move(message), provider);
}

Result<ChatResponse> decode_success(const json& doc, std::size_t body_size,
                                    const std::string& provider) {
  const json* choices = member(doc, "choices");
  if (choices == nullptr || !choices->is_array() || choices->empty()) {
    if (const json* error = member(doc, "error"); error != nullptr && !error->is_null()) {
      // An error delivered with 200; its "code" is often the HTTP status it stands for.
      const json* code = member(*error, "code");
      long status = 502;
      if (code != nullptr && code->is_number_integer()) {
        const auto c = code->get<std::int64_t>();
        if (c >= 400 && c <= 599) status = static_cast<long>(c);
      }
      return error_for_status(status, error_detail(doc), provider);
    }
    return bad_response("the response has no choices (" + std::to_string(body_size) + " bytes)",
                        provider);
  }
  const json& choice = (*choices)[0];
  const json* message = member(choice, "message");
  if (message == nullptr || !message->is_object()) {
    return bad_response("the response's first choice has no message", provider);
  }
  std::optional<std::string> content = content_text(member(*message, "content"));
  if (!content) return bad_response("the response's message content is not text", provider);

  ChatResponse response;
  response.content = std::move(*content);
  response.finish_reason = string_member(choice, "finish_reason");
  response.model = string_member(doc, "model");
  response.provider = provider;
  if (const json* usage = member(doc, "usage"); usage != nullptr && !usage->is_null()) {
    const auto input = token_count(*usage, "prompt_tokens");
    const auto output = token_count(*usage, "completion_tokens");
    if (!usage->is_object() || !input || !output) {
      return bad_response("the response's usage is not a pair of token counts", provider);
    }
    response.usage = Usage{*input, *output};
  }
  return response;
}

}  // namespace

std::string encode_chat_request(const ChatRequest& request) {
  nlohmann::ordered_json body;
  body["model"] = request.model;
  auto& messages = body["messages"] = nlohmann::ordered_json::array();
  for (const Message& m : request.messages) {
    messages.push_back({{"role", m.role}, {"content", m.content}});
  }
  if (request.max_tokens) body["max_tokens"] = *request.max_tokens;
  if (request.temperature) body["temperature"] = *request.temperature;
  body["stream"] = false;
  return dump(body);
}

Result<ChatResponse> decode_chat_response(long http_status, std::string_view body,
                                          const std::string& provider_name) {
  const std::optional<json> doc = parse(body);
  if (http_status < 200 || http_status > 299) {
    return error_for_status(http_status, doc ? error_detail(*doc) : std::string(), provider_name);
  }
  if (!doc) {
    return bad_response(
        "the response is not valid JSON (" + std::to_string(body.size()) + " bytes)",
        provider_name);
  }
  return decode_success(*doc, body.size(), provider_name);
}

Result<WireChatRequest> decode_chat_request(std::string_view body) {
  auto invalid = [](std::string message) {
    return make_error(ErrorKind::invalid_argument, std::move(message));
  };
  const std::optional<json> doc = parse(body);
  if (!doc || !doc->is_object()) {
    return invalid("We could not parse the JSON body of your request.");
  }
  WireChatRequest wire;
  ChatRequest& request = wire.request;
  if (const json* model = member(*doc, "model"); model != nullptr && !model->is_null()) {
    if (!model->is_string()) return invalid("'model' must be a string");
    request.model = model->get<std::string>();
  }
  const json* messages = member(*doc, "messages");
  if (messages == nullptr || !messages->is_array()) {
    return invalid("'messages' is a required property and must be an array");
  }
  for (const json& m : *messages) {
    const json* role = member(m, "role");
    std::optional<std::string> content = content_text(member(m, "content"));
    if (role == nullptr || !role->is_string() || !content) {
      return invalid("each message needs a string 'role' and text 'content'");
    }
    request.messages.push_back(Message{role->get<std::string>(), std::move(*content)});
  }
  // Newer clients send max_completion_tokens; both mean the same cap here.
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    const json* cap = member(*doc, name);
    if (cap == nullptr || cap->is_null()) continue;
    if (!cap->is_number_integer() || cap->get<std::int64_t>() < 0 ||
        cap->get<std::int64_t>() > std::numeric_limits<int>::max()) {
      return invalid(std::string("'") + name + "' must be a non-negative integer");
    }
    request.max_tokens = static_cast<int>(cap->get<std::int64_t>());
  }
  if (const json* t = member(*doc, "temperature"); t != nullptr && !t->is_null()) {
    if (!t->is_number()) return invalid("'temperature' must be a number");
    request.temperature = t->get<double>();
  }
  if (const json* stream = member(*doc, "stream"); stream != nullptr && !stream->is_null()) {
    if (!stream->is_boolean()) return invalid("'stream' must be a boolean");
    wire.stream = stream->get<bool>();
  }
  return wire;
}

std::string encode_chat_response(const ChatResponse& response, std::string_view id,
                                 std::int64_t created) {
  nlohmann::ordered_json body;
  body["id"] = id;
  body["object"] = "chat.completion";
  body["created"] = created;
  body["model"] = response.model;
  body["choices"] = nlohmann::ordered_json::array(
      {{{"index", 0},
        {"message", {{"role", "assistant"}, {"content", response.content}}},
        {"finish_reason", response.finish_reason}}});
  body["usage"] = {{"prompt_tokens", response.usage.input_tokens},
                   {"completion_tokens", response.usage.output_tokens},
                   {"total_tokens", response.usage.input_tokens + response.usage.output_tokens}};
  return dump(body);
}

std::string encode_error_body(std::string_view message, std::string_view type,
                              std::string_view code) {
  nlohmann::ordered_json error;
  error["message"] = message;
  error["type"] = type;
  error["code"] = code.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(code);
  return dump({{"error", error}});
}

}  // namespace perdiem::providers
