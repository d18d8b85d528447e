// Host tools through the C API: a C callback behind a perdiem::HostTool.
#include <exception>
#include <optional>

#include "sdk/src/c_api_internal.hpp"

struct perdiem_tool_reply {
  std::optional<std::string> result;
  std::optional<perdiem::Error> error;
};

namespace {

perdiem::Result<std::string> call_c_tool(perdiem_tool_fn fn, void* user_data,
                                         const std::string& name, const std::string& arguments) {
  perdiem_tool_reply reply;
  const perdiem_code code = fn(arguments.c_str(), &reply, user_data);
  if (code != PERDIEM_CODE_OK || reply.error) {
    perdiem::Error error = reply.error.value_or(
        perdiem::make_error(perdiem::ErrorKind::tool, "the tool failed", name));
    if (code != PERDIEM_CODE_OK && perdiem::capi::is_error_code(code)) {
      error.kind = perdiem::capi::kind_of(code);
    }
    if (error.source.empty()) error.source = name;
    return error;
  }
  if (!reply.result) {
    return perdiem::make_error(perdiem::ErrorKind::tool,
                               "the tool returned without a result (perdiem_tool_reply_set_result)",
                               name);
  }
  return std::move(*reply.result);
}

}  // namespace

perdiem_code perdiem_config_add_tool(perdiem_config* config, const char* name,
                                     const char* description, const char* parameters_json,
                                     int64_t price_nanos, perdiem_tool_fn fn, void* user_data) {
  if (config == nullptr || name == nullptr || fn == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    perdiem::HostTool tool;
    tool.name = name;
    tool.description = perdiem::capi::or_empty(description);
    tool.parameters_json = perdiem::capi::or_empty(parameters_json);
    if (price_nanos >= 0) tool.price_nanos = price_nanos;
    tool.handler = [fn, user_data, tool_name = tool.name](const std::string& arguments) {
      return call_c_tool(fn, user_data, tool_name, arguments);
    };
    config->options.tools.push_back(std::move(tool));
    return PERDIEM_CODE_OK;
  } catch (const std::exception&) {
    return PERDIEM_CODE_INTERNAL;
  }
}

perdiem_code perdiem_tool_reply_set_result(perdiem_tool_reply* reply, const char* result) {
  if (reply == nullptr || result == nullptr) return PERDIEM_CODE_INVALID_ARGUMENT;
  try {
    reply->result = result;
    return PERDIEM_CODE_OK;
  } catch (const std::exception&) {
    return PERDIEM_CODE_INTERNAL;
  }
}

perdiem_code perdiem_tool_reply_set_error(perdiem_tool_reply* reply, perdiem_code code,
                                          const char* message) {
  const perdiem_code failure = perdiem::capi::is_error_code(code) ? code : PERDIEM_CODE_TOOL;
  if (reply == nullptr) return failure;
  try {
    reply->error = perdiem::make_error(perdiem::capi::kind_of(failure),
                                       message != nullptr ? message : "the tool failed");
  } catch (const std::exception&) {
    // Out of memory: the returned code still fails the call.
  }
  return failure;
}
