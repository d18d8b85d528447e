// JSON Schema validation of tool arguments: the subset models and MCP servers use.
//
// Debian 12 packages no C++ JSON Schema validator, so this is a small one. Supported:
// type (string or list; "integer" accepts 3 and 3.0 but not 3.5), properties, required,
// additionalProperties (bool or schema), enum, const, items (one schema), minItems,
// maxItems, uniqueItems, minimum, maximum, exclusiveMinimum, exclusiveMaximum (numeric
// form), minLength, maxLength (in code points), anyOf, oneOf, allOf, not. Any other
// keyword (format, pattern, $ref, description, default, ...) is ignored, so a schema
// using them is accepted and those rules are simply not checked here: the tool's own
// handler stays responsible for them. A schema that is not an object (or `true`) is
// treated as accepting everything; `false` accepts nothing.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "perdiem/error.hpp"

namespace perdiem::tools {

struct SchemaLimits {
  // Deepest nesting of the schema or the value followed. Deeper input is refused, never
  // recursed into, so a hostile schema or argument cannot exhaust the stack.
  std::size_t max_depth = 64;
  // Violations reported at most; the rest are summarised as "and N more".
  std::size_t max_errors = 8;
};

// One broken rule: where in the value, and what was expected there.
struct SchemaViolation {
  std::string path;     // "$", "$.city", "$.stops[2].name", "$[\"odd key\"]"
  std::string message;  // "required property missing", "expected integer, got string"

  std::string describe() const { return path + ": " + message; }
};

// Every violation of `schema` by `value` (up to limits.max_errors); empty when valid.
std::vector<SchemaViolation> schema_violations(const nlohmann::json& schema,
                                               const nlohmann::json& value,
                                               const SchemaLimits& limits = {});

// ok, or an invalid_argument error whose message lists the violations, one per line,
// written for the model to read and correct: "$.city: required property missing".
Status validate_against_schema(const nlohmann::json& schema, const nlohmann::json& value,
                               const SchemaLimits& limits = {});

// The JSON path of an object member under `parent`: "$.city", or $["odd key"] when the
// key is not a plain identifier.
std::string member_path(const std::string& parent, const std::string& key);

}  // namespace perdiem::tools
