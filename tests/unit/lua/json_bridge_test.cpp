// The json module scripts see, and the host's Lua -> JSON helpers.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "runtime/lua/json_bridge.hpp"
#include "runtime/lua/sandbox.hpp"

using perdiem::ErrorKind;
using perdiem::lua::JsonLimits;
using perdiem::lua::Sandbox;

namespace {

struct Ran {
  bool ok = false;
  std::string value;  // tostring of the first result, or the error message
};

class JsonState {
 public:
  explicit JsonState(JsonLimits limits = {}) {
    auto created = Sandbox::create({});
    REQUIRE(created.ok());
    sandbox_ = std::move(created).value();
    lua_State* L = sandbox_->state();
    perdiem::lua::push_json_module(L, limits);
    lua_setglobal(L, "json");
  }

  lua_State* state() const { return sandbox_->state(); }

  // Runs `code` as chunk "test.lua"; leaves nothing on the stack.
  Ran run(const std::string& code) {
    lua_State* L = state();
    Ran ran;
    int status = luaL_loadbufferx(L, code.data(), code.size(), "@test.lua", "t");
    if (status == LUA_OK) status = lua_pcall(L, 0, 1, 0);
    ran.ok = status == LUA_OK;
    std::size_t length = 0;
    const char* text = luaL_tolstring(L, -1, &length);
    ran.value.assign(text, length);
    lua_pop(L, 2);
    return ran;
  }

  // Evaluates `expression` and leaves its value on the stack.
  void push(const std::string& expression) {
    const std::string code = "return " + expression;
    lua_State* L = state();
    REQUIRE(luaL_loadbufferx(L, code.data(), code.size(), "@test.lua", "t") == LUA_OK);
    REQUIRE(lua_pcall(L, 0, 1, 0) == LUA_OK);
  }

 private:
  std::unique_ptr<Sandbox> sandbox_;
};

std::string encoded(JsonState& state, const std::string& expression) {
  const Ran ran = state.run("return json.encode(" + expression + ")");
  CAPTURE(expression);
  CHECK(ran.ok);
  return ran.value;
}

std::string encode_error(JsonState& state, const std::string& expression) {
  const Ran ran = state.run("return json.encode(" + expression + ")");
  CAPTURE(expression);
  CHECK_FALSE(ran.ok);
  return ran.value;
}

std::string nested(const char* open, const char* close, int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += open;
  for (int i = 0; i < depth; ++i) text += close;
  return text;
}

}  // namespace

TEST_CASE("json.encode writes scalars") {
  JsonState state;
  CHECK(encoded(state, "1") == "1");
  CHECK(encoded(state, "-9223372036854775807") == "-9223372036854775807");
  CHECK(encoded(state, "1.5") == "1.5");
  CHECK(encoded(state, "2.0") == "2.0");  // a float stays a float
  CHECK(encoded(state, "1e300") == "1e+300");
  CHECK(encoded(state, "true") == "true");
  CHECK(encoded(state, "nil") == "null");
  CHECK(encoded(state, "json.null") == "null");
}

TEST_CASE("json.encode escapes strings") {
  JsonState state;
  CHECK(encoded(state, R"('a"b\\c')") == R"("a\"b\\c")");
  CHECK(encoded(state, R"('line\nnext\ttab\r\1')") == R"("line\nnext\ttab\r\u0001")");
  CHECK(encoded(state, "'caf\\u{e9} \\u{1F600}'") == "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");
}

TEST_CASE("json.encode refuses strings that are not UTF-8") {
  JsonState state;
  CHECK(encode_error(state, "'\\xff'").find("not valid UTF-8") != std::string::npos);
  CHECK(encode_error(state, "'\\xC0\\x80'").find("not valid UTF-8") !=
        std::string::npos);  // overlong
  CHECK(encode_error(state, "'\\xED\\xA0\\x80'").find("not valid UTF-8") !=
        std::string::npos);  // surrogate
}

TEST_CASE("tables with keys 1..n are arrays, others objects with sorted keys") {
  JsonState state;
  CHECK(encoded(state, "{1, 'two', {3}}") == R"([1,"two",[3]])");
  CHECK(encoded(state, "{b = 1, a = {c = true}}") == R"({"a":{"c":true},"b":1})");
  CHECK(encoded(state, "{[1] = 'a', [3] = 'c'}") == R"({"1":"a","3":"c"})");  // sparse
  CHECK(encoded(state, "{1, x = 2}") == R"({"1":1,"x":2})");
  CHECK(encoded(state, "{[0] = 'zero'}") == R"({"0":"zero"})");
}

TEST_CASE("an empty table is an object unless marked with json.array") {
  JsonState state;
  CHECK(encoded(state, "{}") == "{}");
  CHECK(encoded(state, "json.array{}") == "[]");
  CHECK(encoded(state, "json.array()") == "[]");
  CHECK(encoded(state, "json.array{1, 2}") == "[1,2]");
  CHECK(encode_error(state, "json.array{x = 1}").find("keys other than 1..n") != std::string::npos);
}

TEST_CASE("json.encode refuses keys that cannot be object keys") {
  JsonState state;
  CHECK(encode_error(state, "{[true] = 1}").find("type boolean cannot be a JSON object key") !=
        std::string::npos);
  CHECK(encode_error(state, "{[1.5] = 1}").find("table key 1.5 is neither") != std::string::npos);
  CHECK(encode_error(state, "{[1] = 'a', ['1'] = 'b', x = 0}").find("both the integer key 1") !=
        std::string::npos);
}

TEST_CASE("json.encode refuses NaN and infinities") {
  JsonState state;
  CHECK(encode_error(state, "0/0").find("NaN or infinity") != std::string::npos);
  CHECK(encode_error(state, "{math.huge}").find("NaN or infinity") != std::string::npos);
  CHECK(encode_error(state, "-math.huge").find("NaN or infinity") != std::string::npos);
}

TEST_CASE("json.encode refuses cycles but accepts a table shared twice") {
  JsonState state;
  const Ran cycle = state.run("local t = {} t.self = t return json.encode(t)");
  CHECK_FALSE(cycle.ok);
  CHECK(cycle.value == "test.lua:1: json.encode: table contains a cycle");
  const Ran shared = state.run("local s = {1} return json.encode({a = s, b = s})");
  CHECK(shared.ok);
  CHECK(shared.value == R"({"a":[1],"b":[1]})");
}

TEST_CASE("json.encode refuses functions, threads and userdata") {
  JsonState state;
  CHECK(encode_error(state, "print or tostring").find("cannot encode a function value") !=
        std::string::npos);
  CHECK(encode_error(state, "coroutine.create(tostring)").find("cannot encode a thread value") !=
        std::string::npos);
}

TEST_CASE("json nesting is limited to max_depth in both directions") {
  JsonState state;  // default: 200
  auto build = [](int depth) {
    return "(function() local t = {} for i = 2, " + std::to_string(depth) +
           " do t = {t} end return t end)()";
  };
  CHECK(encoded(state, build(200)) == std::string(199, '[') + "{}" + std::string(199, ']'));
  CHECK(encode_error(state, build(201)).find("nesting deeper than 200 levels") !=
        std::string::npos);

  CHECK(state.run("return type(json.decode('" + nested("[", "]", 200) + "'))").value == "table");
  const Ran deep = state.run("return json.decode('" + nested("[", "]", 201) + "')");
  CHECK_FALSE(deep.ok);
  CHECK(deep.value.find("json.decode: nesting deeper than 200 levels") != std::string::npos);
}

TEST_CASE("a deeply nested document is refused without exhausting the C stack") {
  JsonState state;
  const Ran ran = state.run("return json.decode(('['):rep(100000))");
  CHECK_FALSE(ran.ok);
  CHECK(ran.value.find("nesting deeper than") != std::string::npos);
}

TEST_CASE("json.decode maps JSON onto Lua values") {
  JsonState state;
  const Ran ran = state.run(R"lua(
    local v = json.decode('{"s":"x","i":42,"f":1.5,"t":true,"n":null,"a":[1,null,3],"1":"one"}')
    return table.concat({v.s, math.type(v.i), math.type(v.f), tostring(v.t),
                         tostring(v.n == json.null), #v.a, tostring(v.a[2] == json.null),
                         v["1"], tostring(v[1])}, ","))lua");
  REQUIRE(ran.ok);
  CHECK(ran.value == "x,integer,float,true,true,3,true,one,nil");
}

TEST_CASE("json.decode of a top-level null is json.null") {
  JsonState state;
  CHECK(state.run("return json.decode('null') == json.null").value == "true");
}

TEST_CASE("json round trips a document") {
  JsonState state;
  const std::string document =
      R"({"a":[1,2.5,{"b":null}],"c":"caf\u00e9","d":[],"e":{},"f":false,"g":-7})";
  const Ran ran = state.run("return json.encode(json.decode([[" + document + "]]))");
  REQUIRE(ran.ok);
  CHECK(ran.value ==
        "{\"a\":[1,2.5,{\"b\":null}],\"c\":\"caf\xC3\xA9\",\"d\":[],\"e\":{},"
        "\"f\":false,\"g\":-7}");
}

TEST_CASE("json.decode keeps integers exact and large ones as floats") {
  JsonState state;
  CHECK(state.run("return json.decode('9223372036854775807') == math.maxinteger").value == "true");
  CHECK(state.run("return math.type(json.decode('18446744073709551615'))").value == "float");
}

TEST_CASE("json.decode reports syntax errors and refuses out-of-range numbers") {
  JsonState state;
  const Ran bad = state.run("return json.decode('{\"a\": tru}')");
  CHECK_FALSE(bad.ok);
  CHECK(bad.value.find("test.lua:1: json.decode: parse error at line 1") == 0);
  CHECK_FALSE(state.run("return json.decode('1e999')").ok);
  CHECK_FALSE(state.run("return json.decode('[1] trailing')").ok);
  CHECK_FALSE(state.run("return json.decode('\"\\xff\"')").ok);  // not UTF-8
}

TEST_CASE("json.encode stops at max_bytes even when a string is shared many times") {
  JsonLimits limits;
  limits.max_bytes = 1000;
  JsonState state(limits);
  const Ran ran = state.run(
      "local s = ('x'):rep(100) local t = {} for i = 1, 100 do t[i] = s end return json.encode(t)");
  CHECK_FALSE(ran.ok);
  CHECK(ran.value.find("longer than 1000 bytes") != std::string::npos);
}

TEST_CASE("encode_json reads tables raw, so hostile metamethods never run") {
  JsonState state;
  state.push(R"lua(setmetatable({a = 1}, {
      __index = function() error("index ran") end,
      __pairs = function() error("pairs ran") end,
      __len = function() error("len ran") end}))lua");
  auto text = perdiem::lua::encode_json(state.state(), -1, {});
  lua_pop(state.state(), 1);
  REQUIRE(text.ok());
  CHECK(*text == R"({"a":1})");
}

TEST_CASE("encode_json returns an error value for what JSON cannot hold") {
  JsonState state;
  state.push("{f = print or tostring}");
  const int top = lua_gettop(state.state());
  auto text = perdiem::lua::encode_json(state.state(), -1, {});
  CHECK(lua_gettop(state.state()) == top);
  lua_pop(state.state(), 1);
  REQUIRE_FALSE(text.ok());
  CHECK(text.error().kind == ErrorKind::script);
  CHECK(text.error().message == "cannot encode a function value");
}

TEST_CASE("encode_json can replace bytes that are not UTF-8") {
  JsonState state;
  state.push("'a\\xffb'");
  auto refused = perdiem::lua::encode_json(state.state(), -1, {});
  auto replaced =
      perdiem::lua::encode_json(state.state(), -1, {}, perdiem::lua::InvalidUtf8::replace);
  lua_pop(state.state(), 1);
  CHECK_FALSE(refused.ok());
  REQUIRE(replaced.ok());
  CHECK(*replaced ==
        "\"a\xEF\xBF\xBD"
        "b\"");
}

TEST_CASE("to_json gives the host a document") {
  JsonState state;
  state.push("{name = 'x', list = {1, 2}, none = json.null}");
  auto document = perdiem::lua::to_json(state.state(), -1, {});
  lua_pop(state.state(), 1);
  REQUIRE(document.ok());
  CHECK((*document)["name"] == "x");
  CHECK((*document)["list"] == nlohmann::json::array({1, 2}));
  CHECK((*document)["none"].is_null());
}
