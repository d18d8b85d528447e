// Compact JSON text written straight into a string, for the trace rows written on every
// model call: no document tree is built and freed. The text is what nlohmann::json's
// dump() writes for the same value (keys are appended in the order the caller gives,
// so a caller that wants dump()'s sorted order appends them sorted). Internal to sdk/src.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/json_plain.hpp"

namespace perdiem::sdk::json_text {

// `text` as a JSON string, escaped as nlohmann::json::dump() escapes it; invalid UTF-8
// becomes U+FFFD (error_handler_t::replace) rather than throwing.
inline void append_string(std::string& out, std::string_view text) {
  const std::size_t start = out.size();
  out += '"';
  if (!base::append_json_escaped(out, text, /*ascii_only=*/true, base::ControlEscapes::dump)) {
    // UTF-8 needs validating: the library's serializer does it exactly as dump() would.
    out.resize(start);
    out += nlohmann::json(std::string(text))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
}

// `"key":`. Keys are the trace format's own names: plain ASCII, never escaped.
inline void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

inline void append_int(std::string& out, std::int64_t value) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
}

// Writes JSON text member by member, placing the commas: the trace's writers say what
// goes where, not where the punctuation goes. Keys are appended as given (a caller that
// wants dump()'s order gives them sorted).
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& begin_object() { return open('{'); }
  Writer& end_object() { return close('}'); }
  Writer& begin_array() { return open('['); }
  Writer& end_array() { return close(']'); }
  // A member's key; the next value written is its value.
  Writer& key(std::string_view name) {
    separate();
    append_key(out_, name);
    after_key_ = true;
    return *this;
  }
  Writer& string(std::string_view text) {
    separate();
    append_string(out_, text);
    return *this;
  }
  Writer& integer(std::int64_t value) {
    separate();
    append_int(out_, value);
    return *this;
  }
  // A value already written as JSON text.
  Writer& raw(std::string_view json) {
    separate();
    out_ += json;
    return *this;
  }
  Writer& field(std::string_view name, std::string_view text) { return key(name).string(text); }
  Writer& field(std::string_view name, std::int64_t value) { return key(name).integer(value); }

 private:
  void separate() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_) {
      out_ += ',';
    }
    first_ = false;
  }
  Writer& open(char bracket) {
    separate();
    out_ += bracket;
    first_ = true;
    return *this;
  }
  Writer& close(char bracket) {
    out_ += bracket;
    first_ = false;
    return *this;
  }

  std::string& out_;
  bool first_ = true;       // nothing written yet in the innermost container
  bool after_key_ = false;  // a key was written: its value needs no comma
};

}  // namespace perdiem::sdk::json_text
