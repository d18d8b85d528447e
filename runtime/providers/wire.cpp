#include "runtime/providers/wire.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

#include "base/json_depth.hpp"
#include "runtime/providers/text.hpp"

namespace perdiem::providers {

namespace wire {

namespace {

// 10^n for n in [0, 18].
std::int64_t pow10(int n) {
  std::int64_t p = 1;
  while (n-- > 0) p *= 10;
  return p;
}

}  // namespace

std::optional<Json> parse(std::string_view text) {
  if (base::json_nests_deeper_than(text, kMaxJsonDepth)) return std::nullopt;
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::nullopt;
  return doc;
}

std::string dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const Json* member(const Json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

std::string string_member(const Json& object, const char* name) {
  const Json* value = member(object, name);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

std::optional<std::int64_t> token_count(const Json& usage, const char* name) {
  const Json* value = member(usage, name);
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

std::optional<std::int64_t> usd_to_nanos(const Json& amount) {
  // int64 nano-USD ends a little past 9.2e9 USD; nobody is billed that for one call.
  constexpr double kMaxUsd = 9e9;
  if (!amount.is_number()) return std::nullopt;
  const double usd = amount.get<double>();
  if (!std::isfinite(usd) || usd < 0 || usd > kMaxUsd) return std::nullopt;

  // Work from the shortest decimal that reads back as the same double ("0.95", not
  // 0.9499999999999999555910790149937...), so a price the provider wrote in decimal
  // converts exactly and rounding up adds no phantom nano.
  std::array<char, 64> buffer{};
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), usd);
  if (ec != std::errc()) return std::nullopt;
  std::int64_t mantissa = 0;
  int exponent = 9;  // the result is in nano-USD
  bool after_point = false;
  const char* p = buffer.data();
  for (; p != end && *p != 'e'; ++p) {
    if (*p == '.') {
      after_point = true;
      continue;
    }
    mantissa = mantissa * 10 + (*p - '0');  // at most 17 significant digits
    if (after_point) --exponent;
  }
  if (p != end) {  // "e-10", "e+20"
    int e = 0;
    std::from_chars(p + 1 + (p[1] == '+' ? 1 : 0), end, e);
    exponent += e;
  }
  if (mantissa == 0) return 0;
  if (exponent >= 0) {
    // usd <= kMaxUsd keeps mantissa * 10^exponent below 9e18.
    return mantissa * pow10(exponent);
  }
  if (exponent < -18) return 1;  // a positive amount below one nano still costs one
  const std::int64_t divisor = pow10(-exponent);
  return mantissa / divisor + (mantissa % divisor != 0 ? 1 : 0);
}

std::string error_detail(const Json& doc) {
  if (const Json* error = member(doc, "error"); error != nullptr) {
    if (error->is_string()) return error->get<std::string>();
    if (std::string message = string_member(*error, "message"); !message.empty()) {
      return message;
    }
  }
  if (std::string message = string_member(doc, "message"); !message.empty()) return message;
  return string_member(doc, "detail");
}

Error http_error(long status, std::string_view detail, const std::string& provider) {
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
    what = status == 529 ? "the provider is overloaded" : "the provider failed to answer";
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

Result<Json> parse_response(long http_status, std::string_view body,
                            const std::string& provider) {
  std::optional<Json> doc = parse(body);
  if (http_status < 200 || http_status > 299) {
    return http_error(http_status, doc ? error_detail(*doc) : std::string(), provider);
  }
  if (!doc) {
    return bad_response(
        "the response is not valid JSON (" + std::to_string(body.size()) + " bytes)", provider);
  }
  return std::move(*doc);
}

std::optional<Json> schema_object(std::string_view text) {
  if (text.empty()) return Json{{"type", "object"}, {"properties", Json::object()}};
  std::optional<Json> schema = parse(text);
  if (!schema || !schema->is_object()) return std::nullopt;
  return schema;
}

}  // namespace wire

namespace {

bool valid_tool_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Error invalid(std::string message) {
  return make_error(ErrorKind::invalid_argument, std::move(message));
}

}  // namespace

Status validate_chat_request(const ChatRequest& request) {
  std::set<std::string_view> names;
  for (const ToolDefinition& tool : request.tools) {
    const std::string quoted = "'" + text::excerpt(tool.name, 64) + "'";
    if (!valid_tool_name(tool.name)) {
      return invalid("tool name " + quoted + " must be 1-64 letters, digits, '_' or '-'");
    }
    if (!names.insert(tool.name).second) return invalid("tool " + quoted + " is declared twice");
    if (!wire::schema_object(tool.parameters)) {
      return invalid("the parameters of tool " + quoted + " are not a JSON Schema object");
    }
  }
  const std::string& choice = request.tool_choice;
  if (!choice.empty() && choice != "auto" && choice != "none" && choice != "required" &&
      names.count(choice) == 0) {
    return invalid("tool_choice '" + text::excerpt(choice, 64) +
                   "' is neither auto, none, required nor a declared tool");
  }
  if (request.response_format) {
    if (request.response_format->name.empty()) return invalid("response_format needs a name");
    if (request.response_format->schema.empty() ||
        !wire::schema_object(request.response_format->schema)) {
      return invalid("the response_format schema is not a JSON Schema object");
    }
  }
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    const Message& m = request.messages[i];
    if (m.role == "tool" && m.tool_call_id.empty()) {
      return invalid("message " + std::to_string(i + 1) + " has role tool but no tool_call_id");
    }
  }
  return Status::success();
}

std::vector<std::pair<std::string, std::string>> kept_response_headers(
    const std::vector<std::pair<std::string, std::string>>& headers) {
  static constexpr std::string_view kKept[] = {
      "x-venice-balance-usd",
      "x-venice-balance-diem",
      "x-venice-balance-vcu",
      "x-generation-id",
  };
  std::vector<std::pair<std::string, std::string>> kept;
  for (const auto& header : headers) {
    for (std::string_view name : kKept) {
      if (header.first == name) kept.push_back(header);
    }
  }
  return kept;
}

}  // namespace perdiem::providers
