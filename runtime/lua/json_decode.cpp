// JSON text -> Lua value, built straight onto the Lua stack by nlohmann's SAX parser:
// no intermediate document, so every byte the result needs is counted by the sandbox's
// heap cap, and nesting is refused past JsonLimits::max_depth before it costs anything.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lua/json_codec.hpp"

namespace perdiem::lua::json_codec {
namespace {

class Decoder {
 public:
  using json = nlohmann::json;

  Decoder(lua_State* L, const JsonLimits& limits) : L_(L), limits_(limits) {}

  const std::string& error() const { return error_; }

  // The SAX interface nlohmann::json::sax_parse calls. Returning false stops parsing.
  bool null() {
    push_json_null(L_);
    return attach();
  }
  bool boolean(bool value) {
    lua_pushboolean(L_, value);
    return attach();
  }
  bool number_integer(json::number_integer_t value) {
    lua_pushinteger(L_, static_cast<lua_Integer>(value));
    return attach();
  }
  bool number_unsigned(json::number_unsigned_t value) {
    if (value <= static_cast<json::number_unsigned_t>(std::numeric_limits<lua_Integer>::max())) {
      lua_pushinteger(L_, static_cast<lua_Integer>(value));
    } else {
      lua_pushnumber(L_, static_cast<lua_Number>(value));
    }
    return attach();
  }
  bool number_float(json::number_float_t value, const json::string_t&) {
    if (!std::isfinite(value)) return refuse("number out of range");
    lua_pushnumber(L_, value);
    return attach();
  }
  bool string(json::string_t& value) {
    lua_pushlstring(L_, value.data(), value.size());
    return attach();
  }
  bool binary(json::binary_t&) { return refuse("binary values are not JSON"); }
  bool start_object(std::size_t) { return open(false); }
  bool key(json::string_t& name) {
    lua_pushlstring(L_, name.data(), name.size());
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const json::exception& error) {
    // "[json.exception.parse_error.101] parse error at line 1, ..." -> "parse error at ..."
    std::string_view what = error.what();
    const std::size_t tag_end = what.find("] ");
    return refuse(std::string(tag_end == std::string_view::npos ? what : what.substr(tag_end + 2)));
  }

 private:
  struct Frame {
    bool is_array = false;
    lua_Integer length = 0;
  };

  bool refuse(std::string why) {
    error_ = std::move(why);
    return false;
  }

  bool open(bool is_array) {
    if (frames_.size() >= limits_.max_depth) {
      return refuse("nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    luaL_checkstack(L_, 4, "json.decode: nesting too deep");
    lua_newtable(L_);
    if (is_array) mark_array(L_, -1);  // so that [] encodes back as []
    frames_.push_back({is_array, 0});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return attach();
  }

  // Stores the value on top into the container being built (under it on the stack,
  // with the pending key between them for an object). The outermost value stays put.
  bool attach() {
    if (frames_.empty()) return true;
    Frame& frame = frames_.back();
    if (frame.is_array) {
      lua_rawseti(L_, -2, ++frame.length);
    } else {
      lua_rawset(L_, -3);
    }
    return true;
  }

  lua_State* L_;
  const JsonLimits& limits_;
  std::vector<Frame> frames_;
  std::string error_;
};

}  // namespace

void decode(lua_State* L, std::string_view text, const JsonLimits& limits) {
  const int top = lua_gettop(L);
  Decoder decoder(L, limits);
  if (!nlohmann::json::sax_parse(text.begin(), text.end(), &decoder)) {
    lua_settop(L, top);  // drop the half-built value
    luaL_error(L, "json.decode: %s", decoder.error().c_str());
  }
}

}  // namespace perdiem::lua::json_codec
