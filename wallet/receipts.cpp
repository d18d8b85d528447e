#include "wallet/receipts.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "wallet/doc_json.hpp"
#include "wallet/grants.hpp"
#include "wallet/ledger.hpp"

namespace perdiem::wallet {
namespace {

using nlohmann::json;

Error bad(std::string_view why) {
  return make_error(ErrorKind::invalid_argument, "invalid receipt: " + std::string(why));
}

Result<Nanos> money_field(const json& doc, const char* name) {
  auto text = doc_json::string_field(doc, name, "receipt");
  if (!text) return text.error();
  auto amount = parse_usd(*text);
  if (!amount) return bad(std::string("\"") + name + "\": " + amount.error().message);
  return *amount;
}

Result<std::int64_t> count_field(const json& doc, const char* name) {
  auto v = doc_json::int_field(doc, name, "receipt");
  if (!v) return v.error();
  if (*v < 0) return bad(std::string("\"") + name + "\" must not be negative");
  return *v;
}

}  // namespace

bool valid_receipt_text(std::string_view text) { return text.empty() || valid_identifier(text); }

Result<Receipt> parse_receipt(std::string_view text) {
  auto doc = doc_json::parse_object(text, kMaxReceiptBytes, "receipt");
  if (!doc) return doc.error();
  const json& j = *doc;
  Receipt r;
  auto id = doc_json::string_field(j, "id", "receipt");
  if (!id) return id.error();
  if (!valid_identifier(*id)) return bad("\"id\" must be an identifier");
  r.id = *id;
  auto wallet = doc_json::address_field(j, "wallet", "receipt");
  if (!wallet) return wallet.error();
  r.wallet = *wallet;
  auto status = doc_json::string_field(j, "status", "receipt");
  if (!status) return status.error();
  if (*status != "final" && *status != "estimate")
    return bad("\"status\" must be \"final\" or \"estimate\"");
  r.final = *status == "final";

  for (auto [name, out] : {std::pair{"run", &r.run}, std::pair{"model", &r.model},
                           std::pair{"provider", &r.provider}}) {
    auto value = doc_json::string_field(j, name, "receipt");
    if (!value) return value.error();
    if (!valid_receipt_text(*value)) return bad(std::string("\"") + name + "\" has characters outside [A-Za-z0-9._:/@+-]");
    *out = *value;
  }
  if (r.provider.empty()) return bad("\"provider\" must not be empty");

  for (auto [name, out] : {std::pair{"step", &r.step},
                           std::pair{"input_tokens", &r.usage.input_tokens},
                           std::pair{"output_tokens", &r.usage.output_tokens},
                           std::pair{"cached_input_tokens", &r.usage.cached_input_tokens},
                           std::pair{"time", &r.time_ms}}) {
    auto value = count_field(j, name);
    if (!value) return value.error();
    *out = *value;
  }
  if (r.usage.cached_input_tokens > r.usage.input_tokens)
    return bad("\"cached_input_tokens\" exceeds \"input_tokens\"");

  auto prices = j.find("prices");
  if (prices == j.end() || !prices->is_object()) return bad("\"prices\" must be an object");
  for (auto [name, out] : {std::pair{"input", &r.prices.input_per_mtok},
                           std::pair{"output", &r.prices.output_per_mtok},
                           std::pair{"cached_input", &r.prices.cached_input_per_mtok},
                           std::pair{"request", &r.prices.per_request}}) {
    auto value = money_field(*prices, name);
    if (!value) return value.error();
    *out = *value;
  }
  auto cost = money_field(j, "cost");
  if (!cost) return cost.error();
  r.cost = *cost;
  auto request_hash = doc_json::hash_field(j, "request_hash", "receipt");
  if (!request_hash) return request_hash.error();
  r.request_hash = *request_hash;
  auto response_hash = doc_json::hash_field(j, "response_hash", "receipt");
  if (!response_hash) return response_hash.error();
  r.response_hash = *response_hash;
  auto batch = j.find("batch");
  if (batch != j.end()) {
    if (!batch->is_object()) return bad("\"batch\" must be an object");
    ReceiptBatch b;
    auto root = doc_json::hash_field(*batch, "root", "receipt batch");
    if (!root) return root.error();
    b.root = *root;
    auto index = count_field(*batch, "index");
    if (!index) return index.error();
    auto size = count_field(*batch, "size");
    if (!size) return size.error();
    if (*size == 0 || *size > 0xffffffffLL || *index >= *size)
      return bad("\"batch\" index must be below its size");
    b.index = static_cast<std::uint32_t>(*index);
    b.size = static_cast<std::uint32_t>(*size);
    // Version 1 batches were written without a version.
    b.version = BatchVersion::v1;
    if (batch->contains("version")) {
      auto version = doc_json::int_field(*batch, "version", "receipt batch");
      if (!version) return version.error();
      if (*version > 2)
        return bad("\"batch\".\"version\" is " + std::to_string(*version) +
                   ": a newer perdiem wrote this receipt");
      if (*version < 1) return bad("\"batch\".\"version\" must be 1 or 2");
      b.version = static_cast<BatchVersion>(*version);
    }
    auto proof = batch->find("proof");
    if (proof == batch->end() || !proof->is_array() || proof->size() > 32)
      return bad("\"batch\".\"proof\" must be an array of at most 32 hashes");
    for (const auto& item : *proof) {
      if (!item.is_string()) return bad("\"batch\".\"proof\" must hold hex hashes");
      auto hash = doc_json::hash_from_hex(item.get<std::string>());
      if (!hash) return bad("\"batch\".\"proof\": " + hash.error().message);
      b.proof.push_back(*hash);
    }
    r.batch = std::move(b);
  }
  auto sig = doc_json::signature_field(j, "receipt");
  if (!sig) return sig.error();
  r.signature = *sig;
  return r;
}

std::string receipt_message(const Receipt& r) {
  std::string m;
  append_receipt_message(m, r);
  return m;
}

void append_receipt_message(std::string& m, const Receipt& r) {
  m.reserve(m.size() + 640);
  m += "perdiem receipt v1";
  const auto name = [&m](std::string_view field) {
    m += '\n';
    m += field;
    m += ": ";
  };
  const auto line = [&](std::string_view field, std::string_view value) {
    name(field);
    m += value;
  };
  const auto number = [&](std::string_view field, std::int64_t value) {
    name(field);
    char digits[24];
    m.append(digits, static_cast<std::size_t>(
                         std::to_chars(digits, digits + sizeof digits, value).ptr - digits));
  };
  line("id", r.id);
  line("wallet", r.wallet.to_string());
  line("status", r.final ? "final" : "estimate");
  line("run", r.run);
  number("step", r.step);
  line("provider", r.provider);
  line("model", r.model);
  number("input_tokens", r.usage.input_tokens);
  number("output_tokens", r.usage.output_tokens);
  number("cached_input_tokens", r.usage.cached_input_tokens);
  number("price_input_nanos_per_mtok", r.prices.input_per_mtok);
  number("price_output_nanos_per_mtok", r.prices.output_per_mtok);
  number("price_cached_input_nanos_per_mtok", r.prices.cached_input_per_mtok);
  number("price_request_nanos", r.prices.per_request);
  number("cost_nanos", r.cost);
  number("time_ms", r.time_ms);
  name("request_hash");
  doc_json::append_hash_hex(m, r.request_hash);
  name("response_hash");
  doc_json::append_hash_hex(m, r.response_hash);
}

// Written by hand rather than through nlohmann::json, straight into one string: this
// runs once per settled call, on the thread that signs every tab's receipts.
std::string receipt_to_json(const Receipt& r) {
  std::string j;
  j.reserve(1024);
  const auto key = [&j](const char* name) {
    if (j.empty()) j += '{';
    else if (j.back() != '{') j += ',';
    j += '"';
    j += name;
    j += "\":";
  };
  const auto text = [&](const char* name, std::string_view value) {
    key(name);
    append_json_quoted(j, value);
  };
  const auto number = [&](const char* name, std::int64_t value) {
    key(name);
    char digits[24];
    j.append(digits, static_cast<std::size_t>(
                         std::to_chars(digits, digits + sizeof digits, value).ptr - digits));
  };
  // Hex strings (hashes, the signature) need no escaping.
  const auto hex = [&](const char* name, std::string_view value) {
    key(name);
    j += '"';
    j += value;
    j += '"';
  };
  const auto hash = [&](const char* name, const Hash32& value) {
    key(name);
    j += '"';
    doc_json::append_hash_hex(j, value);
    j += '"';
  };
  text("id", r.id);
  hex("wallet", r.wallet.to_string());
  text("status", r.final ? "final" : "estimate");
  text("run", r.run);
  number("step", r.step);
  text("provider", r.provider);
  text("model", r.model);
  number("input_tokens", r.usage.input_tokens);
  number("output_tokens", r.usage.output_tokens);
  number("cached_input_tokens", r.usage.cached_input_tokens);
  key("prices");
  j += '{';
  text("input", format_usd(r.prices.input_per_mtok));
  text("output", format_usd(r.prices.output_per_mtok));
  text("cached_input", format_usd(r.prices.cached_input_per_mtok));
  text("request", format_usd(r.prices.per_request));
  j += '}';
  text("cost", format_usd(r.cost));
  number("time", r.time_ms);
  hash("request_hash", r.request_hash);
  hash("response_hash", r.response_hash);
  if (r.batch) {
    key("batch");
    j += '{';
    // Version 1 batches stay byte for byte as they were first stored, without one.
    if (r.batch->version != BatchVersion::v1) number("version", static_cast<int>(r.batch->version));
    hash("root", r.batch->root);
    number("index", r.batch->index);
    number("size", r.batch->size);
    key("proof");
    j += '[';
    for (std::size_t i = 0; i < r.batch->proof.size(); ++i) {
      if (i > 0) j += ',';
      j += '"';
      doc_json::append_hash_hex(j, r.batch->proof[i]);
      j += '"';
    }
    j += "]}";
  }
  hex("signature", signature_to_hex(r.signature));
  j += '}';
  return j;
}

Receipt sign_receipt(Receipt r, const PrivateKey& key) {
  r.wallet = key.address();
  r.signature = key.sign_message(receipt_message(r));
  return r;
}

Status verify_receipt(const Receipt& r) {
  if (r.batch) {
    Hash32 root{};
    if (!merkle_fold(receipt_leaf(r, r.batch->version), r.batch->index, r.batch->size,
                     r.batch->proof, root) ||
        root != r.batch->root)
      return make_error(ErrorKind::auth, "receipt " + r.id +
                                             " is not part of the batch it names (altered or "
                                             "forged)");
    if (!verify_message(r.wallet, batch_message(r.wallet, root, r.batch->size, r.batch->version),
                        r.signature))
      return make_error(ErrorKind::auth, "receipt " + r.id + "'s batch is not signed by wallet " +
                                             r.wallet.to_string() + " (altered or forged)");
    return {};
  }
  if (!verify_message(r.wallet, receipt_message(r), r.signature))
    return make_error(ErrorKind::auth, "receipt " + r.id + " is not signed by wallet " +
                                           r.wallet.to_string() + " (altered or forged)");
  return {};
}

}  // namespace perdiem::wallet
