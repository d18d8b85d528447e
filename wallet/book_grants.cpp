// Book operations for credits entering and leaving: grants and revocations.
#include "wallet/book.hpp"

#include <algorithm>

namespace perdiem::wallet {

Result<std::int64_t> Book::accept_grant(const Grant& grant, const std::string& document) {
  const std::string issuer = grant.issuer.to_string();
  auto seen = db_.prepare("SELECT id FROM grants WHERE issuer = ? AND nonce = ?");
  if (!seen) return seen.error();
  seen->bind(1, issuer).bind(2, grant.nonce);
  auto found = seen->step();
  if (!found) return found.error();
  if (*found)
    return make_error(ErrorKind::invalid_argument,
                      "grant '" + grant.nonce + "' from " + issuer +
                          " was already accepted (grant " + std::to_string(seen->column_int(0)) +
                          "); a grant is accepted once");

  auto insert = db_.prepare(
      "INSERT INTO grants(issuer, nonce, kind, amount, providers, not_before, expires, "
      "accepted_ms, document) VALUES(?,?,?,?,?,?,?,?,?)");
  if (!insert) return insert.error();
  ++writes_;
  insert->bind(1, issuer).bind(2, grant.nonce).bind(3, to_string(grant.kind));
  insert->bind(4, grant.amount).bind(5, join_scope(grant.providers));
  insert->bind(6, grant.not_before).bind(7, grant.expires).bind(8, now_ms_).bind(9, document);
  Status st = insert->run();
  if (!st.ok()) return st.error();
  std::int64_t id = db_.last_insert_rowid();

  std::string refs = RefsBuilder()
                         .add("grant", id)
                         .add("issuer", issuer)
                         .add("nonce", grant.nonce)
                         .add("providers", join_scope(grant.providers))
                         .str();
  if (grant.kind == GrantKind::usd) {
    auto seq = append("grant_usd", "usd", grant.amount, 0, refs);
    if (!seq) return seq.error();
    return id;
  }
  auto seq = append("stake", stake_account(id), grant.amount, 0, refs);
  if (!seq) return seq.error();
  // A stake accepted mid-day pays from today on (if the minimum stake is now met).
  grants_.reset();
  buckets_.clear();
  st = open_allowance();
  if (!st.ok()) return st.error();
  return id;
}

Status Book::revoke(const Revocation& revocation) {
  const std::string issuer = revocation.issuer.to_string();
  auto find = db_.prepare(
      "SELECT id, kind, amount, revoked_ms FROM grants WHERE issuer = ? AND nonce = ?");
  if (!find) return find.error();
  find->bind(1, issuer).bind(2, revocation.nonce);
  auto found = find->step();
  if (!found) return found.error();
  if (!*found)
    return make_error(ErrorKind::not_found,
                      "no grant '" + revocation.nonce + "' from " + issuer + " to revoke");
  std::int64_t id = find->column_int(0);
  std::string kind = find->column_text(1);
  Nanos amount = find->column_int(2);
  bool revoked = find->column_int(3) != 0;
  find->reset();
  if (kind != "stake")
    return make_error(ErrorKind::invalid_argument,
                      "grant " + std::to_string(id) + " is a USD grant; only stakes can be revoked");
  if (revoked) return {};  // revoking twice changes nothing

  auto update = db_.prepare("UPDATE grants SET revoked_ms = ? WHERE id = ?");
  if (!update) return update.error();
  ++writes_;
  update->bind(1, std::max<std::int64_t>(now_ms_, 1)).bind(2, id);  // 0 means "not revoked"
  Status st = update->run();
  if (!st.ok()) return st;
  grants_.reset();
  auto seq = append("revoke", stake_account(id), -amount, 0,
                    RefsBuilder().add("grant", id).add("issuer", issuer).add("nonce",
                                                                             revocation.nonce).str());
  if (!seq) return seq.error();
  return {};
}

}  // namespace perdiem::wallet
