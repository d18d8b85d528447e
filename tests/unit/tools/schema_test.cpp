// Argument validation: good, missing, wrong-typed and extra arguments, each error
// naming the path and the rule; depth bounds.
#include "tools/schema.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace perdiem;
using namespace perdiem::tools;
using nlohmann::json;

namespace {

const json kWeather = json::parse(R"({
  "type": "object",
  "properties": {
    "city": {"type": "string", "minLength": 1, "maxLength": 20},
    "days": {"type": "integer", "minimum": 1, "maximum": 7},
    "units": {"enum": ["metric", "imperial"]},
    "stops": {"type": "array", "items": {"type": "object",
               "properties": {"name": {"type": "string"}}, "required": ["name"]},
              "minItems": 1, "maxItems": 3}
  },
  "required": ["city"],
  "additionalProperties": false
})");

std::string first(const json& schema, const json& value) {
  auto v = schema_violations(schema, value);
  return v.empty() ? "" : v.front().describe();
}

}  // namespace

TEST_CASE("good arguments pass") {
  CHECK(schema_violations(kWeather, json{{"city", "Oslo"}}).empty());
  CHECK(schema_violations(kWeather, json::parse(R"({"city":"Oslo","days":3,"units":"metric",
        "stops":[{"name":"a"}]})"))
            .empty());
  CHECK(validate_against_schema(kWeather, json{{"city", "Oslo"}}).ok());
}

TEST_CASE("a missing required property names its path") {
  CHECK(first(kWeather, json::object()) == "$.city: required property missing");
  Status s = validate_against_schema(kWeather, json::object());
  REQUIRE_FALSE(s.ok());
  CHECK(s.error().kind == ErrorKind::invalid_argument);
  CHECK(s.error().message.find("$.city: required property missing") != std::string::npos);
}

TEST_CASE("wrong types are reported with the expected and actual type") {
  CHECK(first(kWeather, json{{"city", 42}}) == "$.city: expected string, got integer");
  CHECK(first(kWeather, json{{"city", "x"}, {"days", "3"}}) ==
        "$.days: expected integer, got string");
  CHECK(first(kWeather, json::array()) == "$: expected object, got array");
}

TEST_CASE("integer accepts 3 and 3.0 but not 3.5; number accepts both") {
  json schema = {{"type", "integer"}};
  CHECK(schema_violations(schema, json::parse("3")).empty());
  CHECK(schema_violations(schema, json::parse("3.0")).empty());
  CHECK(first(schema, json::parse("3.5")) == "$: expected integer, got number");
  CHECK(schema_violations(json{{"type", "number"}}, json::parse("3")).empty());
  CHECK(schema_violations(json{{"type", "number"}}, json::parse("3.5")).empty());
  CHECK(first(json{{"type", "number"}}, json(true)) == "$: expected number, got boolean");
}

TEST_CASE("extra properties are refused when additionalProperties is false") {
  CHECK(first(kWeather, json{{"city", "x"}, {"country", "NO"}}) ==
        "$.country: unexpected property (not in the schema)");
  json open = kWeather;
  open.erase("additionalProperties");
  CHECK(schema_violations(open, json{{"city", "x"}, {"country", "NO"}}).empty());
  json typed = kWeather;
  typed["additionalProperties"] = {{"type", "string"}};
  CHECK(first(typed, json{{"city", "x"}, {"n", 1}}) == "$.n: expected string, got integer");
}

TEST_CASE("bounds, enums, const and lengths") {
  CHECK(first(kWeather, json{{"city", "x"}, {"days", 0}}) == "$.days: must be >= 1, got 0");
  CHECK(first(kWeather, json{{"city", "x"}, {"days", 8}}) == "$.days: must be <= 7, got 8");
  CHECK(first(kWeather, json{{"city", "x"}, {"units", "kelvin"}}) ==
        "$.units: must be one of [\"metric\",\"imperial\"]");
  CHECK(first(kWeather, json{{"city", ""}}) == "$.city: must be at least 1 characters long");
  // Length counts characters, not bytes: 20 two-byte characters fit maxLength 20.
  std::string twenty;
  for (int i = 0; i < 20; ++i) twenty += "\xC3\xA9";
  CHECK(schema_violations(kWeather, json{{"city", twenty}}).empty());
  CHECK(first(json{{"const", 2}}, json(3)) == "$: must be 2");
  CHECK(schema_violations(json{{"const", 2}}, json::parse("2.0")).empty());
  CHECK(first(json{{"exclusiveMinimum", 0}}, json(0)) == "$: must be > 0, got 0");
}

TEST_CASE("array items carry their index in the path") {
  json args = json::parse(R"({"city":"x","stops":[{"name":"a"},{"nom":"b"}]})");
  auto v = schema_violations(kWeather, args);
  REQUIRE(v.size() == 1);
  CHECK(v[0].describe() == "$.stops[1].name: required property missing");
  CHECK(first(kWeather, json::parse(R"({"city":"x","stops":[]})")) ==
        "$.stops: needs at least 1 items, has 0");
  CHECK(first(kWeather, json::parse(R"({"city":"x","stops":[{"name":"a"},{"name":"a"},
        {"name":"a"},{"name":"a"}]})")) == "$.stops: allows at most 3 items, has 4");
  CHECK(first(json{{"uniqueItems", true}}, json::parse("[1,2,1]")) ==
        "$: items 0 and 2 are equal; items must be unique");
}

TEST_CASE("odd keys are quoted in paths") {
  json schema = {{"type", "object"}, {"required", {"a b"}}};
  CHECK(first(schema, json::object()) == "$[\"a b\"]: required property missing");
}

TEST_CASE("several violations are all listed, up to the limit") {
  auto v = schema_violations(kWeather, json{{"days", "x"}, {"extra", 1}});
  CHECK(v.size() == 3);
  SchemaLimits one;
  one.max_errors = 1;
  auto cut = schema_violations(kWeather, json{{"days", "x"}, {"extra", 1}}, one);
  REQUIRE(cut.size() == 2);
  CHECK(cut[1].message.find("further violations") != std::string::npos);
}

TEST_CASE("type lists, anyOf, oneOf, allOf, not") {
  json nullable = {{"type", {"string", "null"}}};
  CHECK(schema_violations(nullable, json(nullptr)).empty());
  CHECK(first(nullable, json(1)) == "$: expected string or null, got integer");

  json any = {{"anyOf", {{{"type", "string"}}, {{"type", "integer"}}}}};
  CHECK(schema_violations(any, json(1)).empty());
  CHECK(first(any, json(true)) == "$: matches none of the anyOf alternatives");

  json one = {{"oneOf", {{{"type", "integer"}}, {{"type", "number"}}}}};
  CHECK(schema_violations(one, json(1.5)).empty());
  CHECK(first(one, json(1)) == "$: must match exactly one oneOf alternative, matches 2");

  json all = {{"allOf", {{{"minimum", 1}}, {{"maximum", 3}}}}};
  CHECK(schema_violations(all, json(2)).empty());
  CHECK(first(all, json(4)) == "$: must be <= 3, got 4");

  CHECK(first(json{{"not", {{"type", "null"}}}}, json(nullptr)) ==
        "$: matches a schema it must not");
}

TEST_CASE("boolean schemas and unknown keywords") {
  CHECK(schema_violations(json(true), json(1)).empty());
  CHECK(first(json(false), json(1)) == "$: no value is allowed here");
  CHECK(schema_violations(json{{"format", "email"}, {"pattern", "^x$"}}, json("y")).empty());
}

TEST_CASE("deeply nested schemas and values stop at the depth limit") {
  // A schema nested 200 levels deep through "items", and a value to match.
  json schema = {{"type", "integer"}};
  json value = 1;
  for (int i = 0; i < 200; ++i) {
    schema = json{{"type", "array"}, {"items", schema}};
    value = json::array({value});
  }
  auto v = schema_violations(schema, value);
  REQUIRE(v.size() == 1);
  CHECK(v[0].message == "nested deeper than 64 levels");
}
