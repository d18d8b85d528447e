// The public error type (sdk/include/perdiem/error.hpp) is implemented in base so that
// every module, and every module's unit tests, can describe errors.
#include "perdiem/error.hpp"

namespace perdiem {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_argument: return "invalid_argument";
    case ErrorKind::usage: return "usage";
    case ErrorKind::config: return "config";
    case ErrorKind::script: return "script";
    case ErrorKind::sandbox: return "sandbox";
    case ErrorKind::limit: return "limit";
    case ErrorKind::provider: return "provider";
    case ErrorKind::auth: return "auth";
    case ErrorKind::rate_limited: return "rate_limited";
    case ErrorKind::transport: return "transport";
    case ErrorKind::bad_response: return "bad_response";
    case ErrorKind::insufficient_credits: return "insufficient_credits";
    case ErrorKind::budget_exceeded: return "budget_exceeded";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::tool: return "tool";
    case ErrorKind::storage: return "storage";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

std::string Error::describe() const {
  std::string text{to_string(kind)};
  text += ": ";
  text += message;
  if (!source.empty()) {
    text += " (";
    text += source;
    text += ")";
  }
  return text;
}

}  // namespace perdiem
