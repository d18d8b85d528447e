// Errors as values: perdiem::Error, perdiem::Status and perdiem::Result<T>.
//
// Expected failures (a provider error, a refused budget, a sandbox limit) are returned,
// never thrown. Each carries a kind a program can switch on, a message a person can act
// on, and where it came from. Thread-safety: plain values; copy freely.
#pragma once

#include <cassert>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "perdiem/export.h"

namespace perdiem {

enum class ErrorKind {
  invalid_argument,      // the caller passed something unusable
  usage,                 // a command line or option that makes no sense
  config,                // no usable configuration (missing key, unknown provider)
  script,                // the Lua plan raised an error or does not compile
  sandbox,               // the plan reached for something the sandbox forbids
  limit,                 // a sandbox limit was hit (memory, instructions, time)
  provider,              // the provider answered with an error
  auth,                  // the provider rejected the credentials
  rate_limited,          // the provider asked us to slow down
  transport,             // the HTTP exchange itself failed (connect, TLS, timeout)
  bad_response,          // the provider answered something we cannot decode
  insufficient_credits,  // the wallet cannot cover the call
  budget_exceeded,       // a budget the owner set refuses the call
  timeout,               // a deadline passed
  cancelled,             // the run was cancelled
  tool,                  // a tool failed
  storage,               // a database or file failed
  not_found,             // the thing asked for does not exist
  internal,              // a bug in perdiem: please report it
};

// The stable lowercase name of a kind ("rate_limited"), as scripts see it.
PERDIEM_API std::string_view to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // what went wrong and what to do about it
  std::string source;   // where it came from: a provider name, "file:line", a tool name
  bool retryable = false;
  // For insufficient_credits and budget_exceeded: what the refused call (or sub-agent
  // budget) needed and what was available to it, in nano-USD, so a program can decide
  // without reading the message.
  std::optional<std::int64_t> needed_nanos;
  std::optional<std::int64_t> available_nanos;

  // "kind: message (source)", the form the command line prints.
  PERDIEM_API std::string describe() const;
};

inline Error make_error(ErrorKind kind, std::string message, std::string source = {},
                        bool retryable = false) {
  Error error;
  error.kind = kind;
  error.message = std::move(message);
  error.source = std::move(source);
  error.retryable = retryable;
  return error;
}

// A refusal for money (insufficient_credits, budget_exceeded) with its amounts in nano-USD.
inline Error make_refusal(ErrorKind kind, std::string message, std::int64_t needed,
                          std::int64_t available, std::string source = {}) {
  Error error = make_error(kind, std::move(message), std::move(source));
  error.needed_nanos = needed;
  error.available_nanos = available;
  return error;
}

// The outcome of an operation that returns nothing: ok, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design
  static Status success() { return {}; }

  bool ok() const { return !error_.has_value(); }
  const Error& error() const {
    assert(error_);
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

// A T, or the Error that prevented it.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  std::variant<T, Error> state_;
};

}  // namespace perdiem
