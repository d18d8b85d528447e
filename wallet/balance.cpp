#include "wallet/balance.hpp"

#include <algorithm>

#include "wallet/credits.hpp"
#include "wallet/grants.hpp"
#include "wallet/utc.hpp"

namespace perdiem::wallet {

Nanos Balance::allowance_for(std::string_view provider) const {
  Nanos total = 0;
  for (const auto& b : buckets)
    if (scope_covers(b.providers, provider)) total += std::max<Nanos>(0, b.left);
  return total;
}

Coverage coverage_of(const Balance& balance, std::string_view provider, Nanos amount) {
  Coverage c;
  c.allowance_available = balance.allowance_for(provider);
  c.usd_available = std::max<Nanos>(0, balance.usd);
  c.covered_by_allowance = c.allowance_available >= amount;
  c.affordable = c.allowance_available + c.usd_available >= amount;
  return c;
}

Result<Balance> read_balance(sql::Db& db, std::int64_t now_ms, Nanos min_stake) {
  Status st = db.exec("BEGIN");
  if (!st.ok()) return st.error();
  struct EndRead {
    sql::Db& db;
    ~EndRead() { (void)db.exec("COMMIT"); }
  } end_read{db};

  Balance out;
  out.day = utc_date(now_ms);
  auto account = db.prepare("SELECT amount FROM balances WHERE account = ?");
  if (!account) return account.error();
  auto read = [&](const std::string& name) -> Result<std::optional<Nanos>> {
    sql::ResetGuard guard(*account);
    account->bind(1, name);
    auto row = account->step();
    if (!row) return row.error();
    if (!*row) return std::optional<Nanos>();
    return std::optional<Nanos>(account->column_int(0));
  };

  auto usd = read("usd");
  if (!usd) return usd.error();
  out.usd = usd->value_or(0);

  auto grants = load_stake_grants(db, utc_day(now_ms) * 86400);
  if (!grants) return grants.error();
  auto due = grants_to_open(*grants, now_ms / 1000, min_stake);
  for (const auto& g : *grants) {
    if (stake_active(g, now_ms / 1000)) out.staked += g.amount;
    auto left = read(allowance_account(out.day, g.id));
    if (!left) return left.error();
    bool opens = std::find(due.begin(), due.end(), &g) != due.end();
    if (!*left && !opens) continue;
    AllowanceBucket bucket{g.id, g.providers, g.amount, left->value_or(g.amount)};
    out.allowance += std::max<Nanos>(0, bucket.left);
    out.buckets.push_back(std::move(bucket));
  }
  out.below_min_stake = out.staked > 0 && out.staked < min_stake;

  auto reserved = db.prepare("SELECT COALESCE(SUM(hold), 0) FROM reservations WHERE state = 'open'");
  if (!reserved) return reserved.error();
  auto row = reserved->step();
  if (!row) return row.error();
  out.reserved = reserved->column_int(0);
  return out;
}

}  // namespace perdiem::wallet
