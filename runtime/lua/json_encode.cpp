// Lua value -> JSON text. Recursion is bounded by JsonLimits::max_depth and the output
// by JsonLimits::max_bytes: a table can hold one long string a million times, so the
// text may be far larger than the Lua heap that describes it.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "runtime/lua/json_codec.hpp"

namespace perdiem::lua::json_codec {
namespace {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto lead = static_cast<unsigned char>(text[i]);
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code_point = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code_point = lead & 0x0Fu;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code_point = lead & 0x07u;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto byte = static_cast<unsigned char>(text[i + k]);
    if ((byte & 0xC0u) != 0x80u) return 0;
    code_point = (code_point << 6) | (byte & 0x3Fu);
  }
  if (length == 3 && (code_point < 0x800 || (code_point >= 0xD800 && code_point <= 0xDFFF))) {
    return 0;
  }
  if (length == 4 && (code_point < 0x10000 || code_point > 0x10FFFF)) return 0;
  return length;
}

class Encoder {
 public:
  Encoder(lua_State* L, const JsonLimits& limits, InvalidUtf8 invalid_utf8,
          std::string_view error_prefix, std::string& out)
      : L_(L), limits_(limits), invalid_utf8_(invalid_utf8), prefix_(error_prefix), out_(out) {}

  void value(int index, std::size_t depth) {
    switch (lua_type(L_, index)) {
      case LUA_TNIL:
        return append("null");
      case LUA_TBOOLEAN:
        return append(lua_toboolean(L_, index) ? "true" : "false");
      case LUA_TNUMBER:
        return number(index);
      case LUA_TSTRING: {
        std::size_t length = 0;
        const char* data = lua_tolstring(L_, index, &length);
        return string({data, length});
      }
      case LUA_TTABLE:
        return table(index, depth + 1);
      case LUA_TLIGHTUSERDATA:
        if (is_json_null(L_, index)) return append("null");
        break;
      default:
        break;
    }
    fail(std::string("cannot encode a ") + luaL_typename(L_, index) + " value");
  }

 private:
  struct Key {
    std::string text;
    bool is_integer = false;
    lua_Integer integer = 0;
  };

  [[noreturn]] void fail(const std::string& why) {
    luaL_error(L_, "%s%s", std::string(prefix_).c_str(), why.c_str());
    std::abort();  // unreachable: luaL_error unwinds
  }

  void append(std::string_view text) {
    if (text.size() > limits_.max_bytes - out_.size()) {
      fail("the JSON text would be longer than " + std::to_string(limits_.max_bytes) + " bytes");
    }
    out_.append(text);
  }

  void number(int index) {
    char buffer[64];
    std::to_chars_result written{};
    if (lua_isinteger(L_, index)) {
      written = std::to_chars(buffer, buffer + sizeof buffer, lua_tointeger(L_, index));
      return append({buffer, static_cast<std::size_t>(written.ptr - buffer)});
    }
    const double number = lua_tonumber(L_, index);
    if (!std::isfinite(number)) fail("cannot encode NaN or infinity");
    written = std::to_chars(buffer, buffer + sizeof buffer, number);  // shortest round trip
    std::string_view text(buffer, static_cast<std::size_t>(written.ptr - buffer));
    append(text);
    if (text.find_first_of(".e") == std::string_view::npos) append(".0");  // stays a float
  }

  void string(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    append("\"");
    std::size_t run_start = 0;  // plain bytes are copied in runs, not one by one
    auto flush = [&](std::size_t end) { append(text.substr(run_start, end - run_start)); };
    for (std::size_t i = 0; i < text.size();) {
      const auto byte = static_cast<unsigned char>(text[i]);
      if (byte >= 0x80) {
        const std::size_t length = utf8_sequence_length(text, i);
        if (length > 0) {
          i += length;
          continue;
        }
        if (invalid_utf8_ == InvalidUtf8::refuse) fail("string is not valid UTF-8");
        flush(i);
        append("\xEF\xBF\xBD");  // U+FFFD REPLACEMENT CHARACTER
        run_start = ++i;
        continue;
      }
      if (byte >= 0x20 && byte != '"' && byte != '\\') {
        ++i;
        continue;
      }
      flush(i);
      switch (byte) {
        case '"':
          append("\\\"");
          break;
        case '\\':
          append("\\\\");
          break;
        case '\n':
          append("\\n");
          break;
        case '\r':
          append("\\r");
          break;
        case '\t':
          append("\\t");
          break;
        case '\b':
          append("\\b");
          break;
        case '\f':
          append("\\f");
          break;
        default: {
          const char escape[] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xF]};
          append({escape, sizeof escape});
        }
      }
      run_start = ++i;
    }
    flush(text.size());
    append("\"");
  }

  void table(int index, std::size_t depth) {
    const void* identity = lua_topointer(L_, index);
    if (std::find(path_.begin(), path_.end(), identity) != path_.end()) {
      fail("table contains a cycle");
    }
    if (depth > limits_.max_depth) {
      fail("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    luaL_checkstack(L_, 4, "json: nesting too deep");
    path_.push_back(identity);

    // Classify the keys in one raw pass: keys exactly 1..n make an array.
    lua_Integer count = 0, largest = 0;
    bool only_positive_integers = true;
    lua_pushnil(L_);
    while (lua_next(L_, index) != 0) {
      lua_pop(L_, 1);
      ++count;
      check_key(-1);
      if (lua_isinteger(L_, -1) && lua_tointeger(L_, -1) >= 1) {
        largest = std::max(largest, lua_tointeger(L_, -1));
      } else {
        only_positive_integers = false;
      }
    }
    const bool keys_are_1_to_n = only_positive_integers && largest == count;
    if (is_marked_array(L_, index)) {
      if (!keys_are_1_to_n) fail("table marked by json.array has keys other than 1..n");
      array(index, count, depth);
    } else if (count > 0 && keys_are_1_to_n) {
      array(index, count, depth);
    } else {
      object(index, static_cast<std::size_t>(count), depth);
    }
    path_.pop_back();
  }

  void check_key(int index) {
    const int type = lua_type(L_, index);
    if (type == LUA_TSTRING || lua_isinteger(L_, index)) return;
    if (type == LUA_TNUMBER) {
      char buffer[64];
      const auto written = std::to_chars(buffer, buffer + sizeof buffer, lua_tonumber(L_, index));
      fail("table key " + std::string(buffer, written.ptr) + " is neither a string nor an integer");
    }
    fail(std::string("a table key of type ") + lua_typename(L_, type) +
         " cannot be a JSON object key");
  }

  void array(int index, lua_Integer count, std::size_t depth) {
    append("[");
    for (lua_Integer i = 1; i <= count; ++i) {
      if (i > 1) append(",");
      lua_rawgeti(L_, index, i);
      value(lua_gettop(L_), depth);
      lua_pop(L_, 1);
    }
    append("]");
  }

  void object(int index, std::size_t count, std::size_t depth) {
    std::vector<Key> keys;
    keys.reserve(count);
    lua_pushnil(L_);
    while (lua_next(L_, index) != 0) {
      lua_pop(L_, 1);
      Key key;
      if (lua_type(L_, -1) == LUA_TSTRING) {
        std::size_t length = 0;
        const char* data = lua_tolstring(L_, -1, &length);
        key.text.assign(data, length);
      } else {
        key.is_integer = true;
        key.integer = lua_tointeger(L_, -1);
        key.text = std::to_string(key.integer);
      }
      keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.text < b.text; });
    for (std::size_t i = 1; i < keys.size(); ++i) {
      if (keys[i].text == keys[i - 1].text) {
        fail("table has both the integer key " + keys[i].text + " and the string key \"" +
             keys[i].text + "\"");
      }
    }
    append("{");
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) append(",");
      string(keys[i].text);
      append(":");
      if (keys[i].is_integer) {
        lua_rawgeti(L_, index, keys[i].integer);
      } else {
        lua_pushlstring(L_, keys[i].text.data(), keys[i].text.size());
        lua_rawget(L_, index);
      }
      value(lua_gettop(L_), depth);
      lua_pop(L_, 1);
    }
    append("}");
  }

  lua_State* L_;
  const JsonLimits& limits_;
  InvalidUtf8 invalid_utf8_;
  std::string_view prefix_;
  std::string& out_;
  std::vector<const void*> path_;  // the tables being encoded, outermost first
};

}  // namespace

void encode(lua_State* L, int index, const JsonLimits& limits, InvalidUtf8 invalid_utf8,
            std::string_view error_prefix, std::string& out) {
  Encoder(L, limits, invalid_utf8, error_prefix, out).value(lua_absindex(L, index), 0);
}

}  // namespace perdiem::lua::json_codec
