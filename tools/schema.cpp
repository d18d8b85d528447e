#include "tools/schema.hpp"

#include <cmath>
#include <set>

namespace perdiem::tools {
namespace {

using nlohmann::json;

std::string type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::array:
      return "array";
    case json::value_t::object:
      return "object";
    default:
      return "unknown";
  }
}

bool is_integral(const json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  double d = value.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

bool has_type(const json& value, const std::string& type) {
  if (type == "integer") return is_integral(value);
  if (type == "number") return value.is_number();
  return type_name(value) == type;
}

std::size_t code_points(const std::string& text) {
  std::size_t count = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80) ++count;  // count lead bytes, not continuation bytes
  }
  return count;
}

// Numbers compare by value whatever their JSON representation (3 == 3.0).
double as_double(const json& value) {
  return value.get<double>();
}

bool json_equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_number_float() || b.is_number_float()) return as_double(a) == as_double(b);
  }
  return a == b;
}

std::string short_json(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

class Validator {
 public:
  Validator(const SchemaLimits& limits, std::vector<SchemaViolation>& out)
      : limits_(limits), out_(out) {}

  void check(const json& schema, const json& value, const std::string& path, std::size_t depth) {
    if (stop()) return;
    if (depth > limits_.max_depth) {
      add(path, "nested deeper than " + std::to_string(limits_.max_depth) + " levels");
      return;
    }
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) add(path, "no value is allowed here");
      return;
    }
    if (!schema.is_object()) return;
    if (!check_type(schema, value, path)) return;  // the other rules assume the type
    check_enum_const(schema, value, path);
    if (value.is_object()) check_object(schema, value, path, depth);
    if (value.is_array()) check_array(schema, value, path, depth);
    if (value.is_string()) check_string(schema, value, path);
    if (value.is_number()) check_number(schema, value, path);
    check_combinators(schema, value, path, depth);
  }

  bool truncated() const { return truncated_; }

 private:
  bool full() const { return out_.size() >= limits_.max_errors; }
  // Once full, further checks stop early; remember that some may have been skipped.
  bool stop() {
    if (full()) truncated_ = true;
    return full();
  }

  void add(const std::string& path, std::string message) {
    if (full()) {
      truncated_ = true;
      return;
    }
    out_.push_back({path, std::move(message)});
  }

  bool check_type(const json& schema, const json& value, const std::string& path) {
    auto type = schema.find("type");
    if (type == schema.end()) return true;
    std::string expected;
    if (type->is_string()) {
      if (has_type(value, type->get<std::string>())) return true;
      expected = type->get<std::string>();
    } else if (type->is_array()) {
      for (const json& t : *type) {
        if (t.is_string() && has_type(value, t.get<std::string>())) return true;
        if (!expected.empty()) expected += " or ";
        expected += t.is_string() ? t.get<std::string>() : short_json(t);
      }
    } else {
      return true;
    }
    add(path, "expected " + expected + ", got " + type_name(value));
    return false;
  }

  void check_enum_const(const json& schema, const json& value, const std::string& path) {
    if (auto c = schema.find("const"); c != schema.end() && !json_equal(*c, value)) {
      add(path, "must be " + short_json(*c));
    }
    auto options = schema.find("enum");
    if (options == schema.end() || !options->is_array()) return;
    for (const json& option : *options) {
      if (json_equal(option, value)) return;
    }
    add(path, "must be one of " + short_json(*options));
  }

  void check_object(const json& schema, const json& value, const std::string& path,
                    std::size_t depth) {
    if (auto required = schema.find("required"); required != schema.end()) {
      if (required->is_array()) {
        for (const json& key : *required) {
          if (key.is_string() && !value.contains(key.get<std::string>())) {
            add(member_path(path, key.get<std::string>()), "required property missing");
          }
        }
      }
    }
    const json* properties = nullptr;
    if (auto p = schema.find("properties"); p != schema.end() && p->is_object()) {
      properties = &*p;
    }
    auto additional = schema.find("additionalProperties");
    for (const auto& [key, member] : value.items()) {
      std::string member_at = member_path(path, key);
      if (properties != nullptr) {
        if (auto sub = properties->find(key); sub != properties->end()) {
          check(*sub, member, member_at, depth + 1);
          continue;
        }
      }
      if (additional == schema.end()) continue;
      if (additional->is_boolean() && !additional->get<bool>()) {
        add(member_at, "unexpected property (not in the schema)");
      } else if (additional->is_object()) {
        check(*additional, member, member_at, depth + 1);
      }
    }
  }

  void check_array(const json& schema, const json& value, const std::string& path,
                   std::size_t depth) {
    std::size_t size = value.size();
    if (auto min = schema.find("minItems");
        min != schema.end() && min->is_number() && static_cast<double>(size) < as_double(*min)) {
      add(path, "needs at least " + short_json(*min) + " items, has " + std::to_string(size));
    }
    if (auto max = schema.find("maxItems");
        max != schema.end() && max->is_number() && static_cast<double>(size) > as_double(*max)) {
      add(path, "allows at most " + short_json(*max) + " items, has " + std::to_string(size));
    }
    if (auto unique = schema.find("uniqueItems");
        unique != schema.end() && unique->is_boolean() && unique->get<bool>()) {
      for (std::size_t i = 0; i < size; ++i) {
        for (std::size_t j = i + 1; j < size; ++j) {
          if (json_equal(value[i], value[j])) {
            add(path, "items " + std::to_string(i) + " and " + std::to_string(j) +
                          " are equal; items must be unique");
            return;
          }
        }
      }
    }
    auto items = schema.find("items");
    if (items == schema.end() || !(items->is_object() || items->is_boolean())) return;
    for (std::size_t i = 0; i < size && !full(); ++i) {
      check(*items, value[i], path + "[" + std::to_string(i) + "]", depth + 1);
    }
  }

  void check_string(const json& schema, const json& value, const std::string& path) {
    std::size_t length = code_points(value.get_ref<const std::string&>());
    if (auto min = schema.find("minLength");
        min != schema.end() && min->is_number() && static_cast<double>(length) < as_double(*min)) {
      add(path, "must be at least " + short_json(*min) + " characters long");
    }
    if (auto max = schema.find("maxLength");
        max != schema.end() && max->is_number() && static_cast<double>(length) > as_double(*max)) {
      add(path, "must be at most " + short_json(*max) + " characters long");
    }
  }

  void check_number(const json& schema, const json& value, const std::string& path) {
    double number = as_double(value);
    auto bound = [&](const char* keyword, auto violated, const char* words) {
      auto limit = schema.find(keyword);
      if (limit != schema.end() && limit->is_number() && violated(number, as_double(*limit))) {
        add(path, std::string(words) + " " + short_json(*limit) + ", got " + short_json(value));
      }
    };
    bound(
        "minimum", [](double v, double l) { return v < l; }, "must be >=");
    bound(
        "maximum", [](double v, double l) { return v > l; }, "must be <=");
    bound(
        "exclusiveMinimum", [](double v, double l) { return v <= l; }, "must be >");
    bound(
        "exclusiveMaximum", [](double v, double l) { return v >= l; }, "must be <");
  }

  // Runs `schema` in a scratch validator: combinators need a yes/no per branch without
  // reporting each branch's own violations.
  bool passes(const json& schema, const json& value, const std::string& path, std::size_t depth) {
    std::vector<SchemaViolation> scratch;
    SchemaLimits one = limits_;
    one.max_errors = 1;
    Validator inner(one, scratch);
    inner.check(schema, value, path, depth);
    return scratch.empty();
  }

  void check_combinators(const json& schema, const json& value, const std::string& path,
                         std::size_t depth) {
    if (auto all = schema.find("allOf"); all != schema.end() && all->is_array()) {
      for (const json& branch : *all) check(branch, value, path, depth + 1);
    }
    if (auto any = schema.find("anyOf"); any != schema.end() && any->is_array()) {
      bool ok = false;
      for (const json& branch : *any) {
        if (passes(branch, value, path, depth + 1)) {
          ok = true;
          break;
        }
      }
      if (!ok) add(path, "matches none of the anyOf alternatives");
    }
    if (auto one = schema.find("oneOf"); one != schema.end() && one->is_array()) {
      std::size_t matched = 0;
      for (const json& branch : *one) {
        if (passes(branch, value, path, depth + 1)) ++matched;
      }
      if (matched != 1) {
        add(path, "must match exactly one oneOf alternative, matches " + std::to_string(matched));
      }
    }
    if (auto negated = schema.find("not"); negated != schema.end()) {
      if (passes(*negated, value, path, depth + 1)) add(path, "matches a schema it must not");
    }
  }

  const SchemaLimits& limits_;
  std::vector<SchemaViolation>& out_;
  bool truncated_ = false;
};

bool identifier(const std::string& key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string member_path(const std::string& parent, const std::string& key) {
  if (identifier(key)) return parent + "." + key;
  return parent + "[" + json(key).dump(-1, ' ', false, json::error_handler_t::replace) + "]";
}

std::vector<SchemaViolation> schema_violations(const json& schema, const json& value,
                                               const SchemaLimits& limits) {
  std::vector<SchemaViolation> violations;
  Validator validator(limits, violations);
  validator.check(schema, value, "$", 0);
  if (validator.truncated()) {
    violations.push_back({"$", "further violations not listed (fix these first)"});
  }
  return violations;
}

Status validate_against_schema(const json& schema, const json& value, const SchemaLimits& limits) {
  std::vector<SchemaViolation> violations = schema_violations(schema, value, limits);
  if (violations.empty()) return {};
  std::string message = "the arguments do not match the tool's schema:";
  for (const SchemaViolation& v : violations) message += "\n" + v.describe();
  return make_error(ErrorKind::invalid_argument, std::move(message));
}

}  // namespace perdiem::tools
