#include "wallet/credits.hpp"

#include <algorithm>

#include "wallet/grants.hpp"

namespace perdiem::wallet {

std::string stake_account(std::int64_t grant_id) { return "stake:" + std::to_string(grant_id); }

std::string allowance_account(std::string_view date, std::int64_t grant_id) {
  std::string out = "allow:";
  out += date;
  out += ':';
  out += std::to_string(grant_id);
  return out;
}

bool is_allowance_account(std::string_view account) { return account.starts_with("allow:"); }

bool stake_active(const StakeGrant& g, std::int64_t now_s) {
  return !g.revoked && g.not_before <= now_s && (g.expires == 0 || now_s < g.expires);
}

std::vector<const StakeGrant*> grants_to_open(const std::vector<StakeGrant>& grants,
                                              std::int64_t now_s, Nanos min_stake) {
  std::vector<const StakeGrant*> active;
  Nanos total = 0;
  for (const auto& g : grants) {
    if (!stake_active(g, now_s)) continue;
    active.push_back(&g);
    total = checked_add(total, g.amount).value_or(INT64_MAX);
  }
  if (total < min_stake) active.clear();
  return active;
}

std::vector<std::size_t> spending_order(const std::vector<StakeGrant>& buckets,
                                        std::string_view provider) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < buckets.size(); ++i)
    if (scope_covers(buckets[i].providers, provider)) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    bool a_any = scope_covers(buckets[a].providers, "*");
    bool b_any = scope_covers(buckets[b].providers, "*");
    if (a_any != b_any) return !a_any;
    return buckets[a].id < buckets[b].id;
  });
  return order;
}

Result<std::vector<StakeGrant>> load_stake_grants(sql::Db& db, std::int64_t day_start_s) {
  auto stmt = db.prepare(kStakeGrantsQuery);
  if (!stmt) return stmt.error();
  return load_stake_grants(*stmt, day_start_s);
}

Result<std::vector<StakeGrant>> load_stake_grants(sql::Stmt& stmt, std::int64_t day_start_s) {
  sql::ResetGuard guard(stmt);
  stmt.bind(1, day_start_s);
  std::vector<StakeGrant> out;
  for (;;) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) break;
    StakeGrant g;
    g.id = stmt.column_int(0);
    g.amount = stmt.column_int(1);
    g.providers = split_scope(stmt.column_text(2));
    g.not_before = stmt.column_int(3);
    g.expires = stmt.column_int(4);
    g.revoked = stmt.column_int(5) != 0;
    out.push_back(std::move(g));
  }
  return out;
}

std::string join_scope(const std::vector<std::string>& providers) {
  std::string out;
  for (const auto& p : providers) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

std::vector<std::string> split_scope(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    std::size_t comma = text.find(',');
    out.emplace_back(text.substr(0, comma));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace perdiem::wallet
