#include "wallet/doc_json.hpp"

#include "base/json_depth.hpp"
#include "wallet/hex.hpp"

namespace perdiem::wallet::doc_json {
namespace {

using nlohmann::json;

Error bad(std::string_view what, std::string_view why) {
  return make_error(ErrorKind::invalid_argument,
                    "invalid " + std::string(what) + ": " + std::string(why));
}

}  // namespace

Result<json> parse_object(std::string_view text, std::size_t max_bytes, std::string_view what) {
  if (text.size() > max_bytes)
    return bad(what, "larger than " + std::to_string(max_bytes) + " bytes");
  if (base::json_nests_deeper_than(text, kMaxDepth)) return bad(what, "nested too deeply");
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return bad(what, "not valid JSON");
  if (!doc.is_object()) return bad(what, "expected a JSON object");
  return doc;
}

Result<std::string> string_field(const json& doc, const char* name, std::string_view what) {
  auto it = doc.find(name);
  if (it == doc.end()) return bad(what, std::string("missing \"") + name + "\"");
  if (!it->is_string()) return bad(what, std::string("\"") + name + "\" must be a string");
  return it->get<std::string>();
}

Result<std::int64_t> int_field(const json& doc, const char* name, std::string_view what) {
  auto it = doc.find(name);
  if (it == doc.end()) return bad(what, std::string("missing \"") + name + "\"");
  if (!it->is_number_integer())
    return bad(what, std::string("\"") + name + "\" must be an integer");
  if (it->is_number_unsigned() && it->get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX))
    return bad(what, std::string("\"") + name + "\" is out of range");
  return it->get<std::int64_t>();
}

Result<Address> address_field(const json& doc, const char* name, std::string_view what) {
  auto text = string_field(doc, name, what);
  if (!text) return text.error();
  auto address = Address::parse(*text);
  if (!address) return bad(what, std::string("\"") + name + "\": " + address.error().message);
  return *address;
}

Result<Signature> signature_field(const json& doc, std::string_view what) {
  auto text = string_field(doc, "signature", what);
  if (!text) return text.error();
  auto sig = signature_from_hex(*text);
  if (!sig) return bad(what, "\"signature\" must be 0x followed by 130 hex digits");
  return *sig;
}

Result<Hash32> hash_field(const json& doc, const char* name, std::string_view what) {
  auto text = string_field(doc, name, what);
  if (!text) return text.error();
  auto hash = hash_from_hex(*text);
  if (!hash) return bad(what, std::string("\"") + name + "\" must be 0x followed by 64 hex digits");
  return *hash;
}

std::string hash_to_hex(const Hash32& hash) {
  std::string out;
  append_hash_hex(out, hash);
  return out;
}

void append_hash_hex(std::string& out, const Hash32& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + 2 + 2 * hash.size());
  char* digits = out.data() + at;
  *digits++ = '0';
  *digits++ = 'x';
  for (const std::uint8_t byte : hash) {
    *digits++ = kDigits[byte >> 4];
    *digits++ = kDigits[byte & 0x0f];
  }
}

Result<Hash32> hash_from_hex(std::string_view text) {
  Hash32 out{};
  if (text.size() != 66 || strip_0x(text).size() != 64 || !hex_decode_into(strip_0x(text), out))
    return make_error(ErrorKind::invalid_argument, "expected 0x and 64 hex digits");
  return out;
}

}  // namespace perdiem::wallet::doc_json
