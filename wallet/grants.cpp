#include "wallet/grants.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "wallet/doc_json.hpp"
#include "wallet/utc.hpp"

namespace perdiem::wallet {
namespace {

using nlohmann::json;

// Year 9999: keeps ISO formatting four-digit and arithmetic far from overflow.
constexpr std::int64_t kMaxTime = 253402300799;

Error bad(std::string_view what) {
  return make_error(ErrorKind::invalid_argument, "invalid grant: " + std::string(what));
}

Result<std::int64_t> time_field(const json& doc, const char* name, bool required) {
  auto it = doc.find(name);
  if (it == doc.end()) {
    if (required) return bad(std::string("missing \"") + name + "\"");
    return std::int64_t{0};
  }
  if (!it->is_number_integer())
    return bad(std::string("\"") + name + "\" must be an integer (Unix seconds)");
  std::int64_t v = it->get<std::int64_t>();
  if (v < 0 || v > kMaxTime) return bad(std::string("\"") + name + "\" is out of range");
  return v;
}

std::string expires_text(std::int64_t expires) {
  return expires == 0 ? std::string("never") : utc_iso8601(expires);
}

// Sorted and deduplicated, so the canonical text does not depend on the order given.
std::string join_providers(std::vector<std::string> providers) {
  std::sort(providers.begin(), providers.end());
  providers.erase(std::unique(providers.begin(), providers.end()), providers.end());
  std::string out;
  for (const auto& p : providers) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

}  // namespace

std::string_view to_string(GrantKind kind) { return kind == GrantKind::stake ? "stake" : "usd"; }

bool valid_identifier(std::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (char c : text) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '@' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool scope_covers(const std::vector<std::string>& providers, std::string_view provider) {
  for (const auto& p : providers)
    if (p == "*" || p == provider) return true;
  return false;
}

Result<Grant> parse_grant(std::string_view text) {
  auto doc = doc_json::parse_object(text, kMaxGrantBytes, "grant");
  if (!doc) return doc.error();
  const json& j = *doc;
  Grant g;
  auto issuer = doc_json::address_field(j, "issuer", "grant");
  if (!issuer) return issuer.error();
  g.issuer = *issuer;
  auto holder = doc_json::address_field(j, "holder", "grant");
  if (!holder) return holder.error();
  g.holder = *holder;

  auto kind = doc_json::string_field(j, "kind", "grant");
  if (!kind) return kind.error();
  if (*kind == "stake") {
    g.kind = GrantKind::stake;
  } else if (*kind == "usd") {
    g.kind = GrantKind::usd;
  } else {
    return bad("\"kind\" must be \"stake\" or \"usd\"");
  }

  auto amount_text = doc_json::string_field(j, "amount", "grant");
  if (!amount_text) return amount_text.error();
  auto amount = parse_usd(*amount_text);
  if (!amount) return bad("\"amount\": " + amount.error().message);
  if (*amount <= 0) return bad("\"amount\" must be positive");
  g.amount = *amount;

  auto providers = j.find("providers");
  if (providers == j.end()) return bad("missing \"providers\" (use [\"*\"] for any provider)");
  if (!providers->is_array() || providers->empty() || providers->size() > kMaxGrantProviders)
    return bad("\"providers\" must be a non-empty array of at most 64 provider ids");
  g.providers.clear();
  for (const auto& p : *providers) {
    if (!p.is_string()) return bad("\"providers\" must hold strings");
    const auto& id = p.get_ref<const std::string&>();
    if (id != "*" && !valid_identifier(id)) return bad("invalid provider id in \"providers\"");
    g.providers.push_back(id);
  }
  std::sort(g.providers.begin(), g.providers.end());
  g.providers.erase(std::unique(g.providers.begin(), g.providers.end()), g.providers.end());
  if (scope_covers(g.providers, "*") && g.providers.size() != 1)
    return bad("\"*\" must be the only entry of \"providers\"");

  auto not_before = time_field(j, "not_before", true);
  if (!not_before) return not_before.error();
  g.not_before = *not_before;
  auto expires = time_field(j, "expires", false);
  if (!expires) return expires.error();
  g.expires = *expires;
  if (g.expires != 0 && g.expires <= g.not_before) return bad("\"expires\" is not after \"not_before\"");

  auto nonce = doc_json::string_field(j, "nonce", "grant");
  if (!nonce) return nonce.error();
  if (!valid_identifier(*nonce)) return bad("\"nonce\" must be 1-128 characters of [A-Za-z0-9._:/@+-]");
  g.nonce = *nonce;

  auto sig = doc_json::signature_field(j, "grant");
  if (!sig) return sig.error();
  g.signature = *sig;
  return g;
}

std::string grant_message(const Grant& g) {
  std::string m = "perdiem grant v1\n";
  m += "issuer: " + g.issuer.to_string() + "\n";
  m += "holder: " + g.holder.to_string() + "\n";
  m += "kind: " + std::string(to_string(g.kind)) + "\n";
  m += "amount: " + format_usd(g.amount) + "\n";
  m += "providers: " + join_providers(g.providers) + "\n";
  m += "not_before: " + utc_iso8601(g.not_before) + "\n";
  m += "expires: " + expires_text(g.expires) + "\n";
  m += "nonce: " + g.nonce;
  return m;
}

std::string grant_to_json(const Grant& g) {
  json j = {{"issuer", g.issuer.to_string()},
            {"holder", g.holder.to_string()},
            {"kind", std::string(to_string(g.kind))},
            {"amount", format_usd(g.amount)},
            {"providers", g.providers},
            {"not_before", g.not_before},
            {"expires", g.expires},
            {"nonce", g.nonce},
            {"signature", signature_to_hex(g.signature)}};
  return j.dump(2);
}

Grant sign_grant(Grant g, const PrivateKey& issuer_key) {
  g.issuer = issuer_key.address();
  g.signature = issuer_key.sign_message(grant_message(g));
  return g;
}

Status check_grant_signature(const Grant& g) {
  if (!verify_message(g.issuer, grant_message(g), g.signature))
    return make_error(ErrorKind::auth,
                      "grant signature does not match its issuer " + g.issuer.to_string() +
                          " (the grant was altered or not signed by that issuer)");
  return {};
}

Result<Revocation> parse_revocation(std::string_view text) {
  auto doc = doc_json::parse_object(text, kMaxGrantBytes, "revocation");
  if (!doc) return doc.error();
  const json& j = *doc;
  Revocation r;
  auto kind = doc_json::string_field(j, "kind", "revocation");
  if (!kind) return kind.error();
  if (*kind != "revoke")
    return make_error(ErrorKind::invalid_argument, "invalid revocation: \"kind\" must be \"revoke\"");
  auto issuer = doc_json::address_field(j, "issuer", "revocation");
  if (!issuer) return issuer.error();
  r.issuer = *issuer;
  auto holder = doc_json::address_field(j, "holder", "revocation");
  if (!holder) return holder.error();
  r.holder = *holder;
  auto nonce = doc_json::string_field(j, "nonce", "revocation");
  if (!nonce) return nonce.error();
  if (!valid_identifier(*nonce))
    return make_error(ErrorKind::invalid_argument, "invalid revocation: bad \"nonce\"");
  r.nonce = *nonce;
  auto sig = doc_json::signature_field(j, "revocation");
  if (!sig) return sig.error();
  r.signature = *sig;
  return r;
}

std::string revocation_message(const Revocation& r) {
  return "perdiem revocation v1\nissuer: " + r.issuer.to_string() +
         "\nholder: " + r.holder.to_string() + "\nnonce: " + r.nonce;
}

std::string revocation_to_json(const Revocation& r) {
  json j = {{"kind", "revoke"},
            {"issuer", r.issuer.to_string()},
            {"holder", r.holder.to_string()},
            {"nonce", r.nonce},
            {"signature", signature_to_hex(r.signature)}};
  return j.dump(2);
}

Revocation sign_revocation(Revocation r, const PrivateKey& issuer_key) {
  r.issuer = issuer_key.address();
  r.signature = issuer_key.sign_message(revocation_message(r));
  return r;
}

Status check_revocation_signature(const Revocation& r) {
  if (!verify_message(r.issuer, revocation_message(r), r.signature))
    return make_error(ErrorKind::auth, "revocation signature does not match its issuer " +
                                           r.issuer.to_string());
  return {};
}

}  // namespace perdiem::wallet
