#include "runtime/metering/call_hashes.hpp"

#include <string>

#include <nlohmann/json.hpp>

#include "base/json_plain.hpp"

namespace perdiem::metering {
namespace {

// As nlohmann::json::dump escapes a string (ensure_ascii off): UTF-8 passes through.
void quote(std::string& out, std::string_view text) {
  out += '"';
  base::append_json_escaped(out, text, /*ascii_only=*/false, base::ControlEscapes::dump);
  out += '"';
}

// One buffer per thread: the documents are hashed, never kept.
std::string& scratch() {
  thread_local std::string buffer;
  buffer.clear();
  return buffer;
}

}  // namespace

wallet::Hash32 request_hash(const providers::ChatRequest& request) {
  std::string& doc = scratch();
  doc += '{';
  if (request.max_tokens) {
    doc += "\"max_tokens\":";
    doc += std::to_string(*request.max_tokens);
    doc += ',';
  }
  doc += "\"messages\":[";
  bool first = true;
  for (const auto& m : request.messages) {
    if (!first) doc += ',';
    first = false;
    doc += "{\"content\":";
    quote(doc, m.content);
    doc += ",\"role\":";
    quote(doc, m.role);
    doc += '}';
  }
  doc += "],\"model\":";
  quote(doc, request.model);
  if (request.temperature) {
    // nlohmann's shortest round-trip form of a double.
    doc += ",\"temperature\":";
    doc += nlohmann::json(*request.temperature).dump();
  }
  doc += '}';
  return wallet::keccak256(doc);
}

wallet::Hash32 response_hash(const providers::ChatResponse& response) {
  std::string& doc = scratch();
  doc += "{\"content\":";
  quote(doc, response.content);
  doc += ",\"finish_reason\":";
  quote(doc, response.finish_reason);
  doc += ",\"model\":";
  quote(doc, response.model);
  doc += ",\"provider\":";
  quote(doc, response.provider);
  doc += '}';
  return wallet::keccak256(doc);
}

}  // namespace perdiem::metering
