// DIEM-style staked credits and their daily allowance.
//
// Each staked credit grants $1 of compute per UTC day (1 nano-credit -> 1 nano-USD). The
// allowance of day D is opened lazily, by the first write to the wallet on day D, as one
// `allowance` ledger entry per active stake grant into account "allow:<D>:<grant id>".
// Rules:
//  - a stake grant is active at time t when not revoked and not_before <= t < expires;
//  - no allowance at all while the total active stake is below the minimum (0.1 credit
//    by default); a grant accepted later in the day opens its bucket at once when the
//    minimum is then met;
//  - an opened bucket pays until the day ends, even if its grant expires or is revoked
//    that day (revocation and expiry take effect at the next 00:00 UTC);
//  - buckets of past days are dead: their leftover never pays again (no carry-over);
//  - a bucket pays only for the providers its grant names ("*" = any). For a call at a
//    provider, buckets are spent narrowest scope first (named providers before "*"), then
//    oldest grant first; after today's allowance, the USD balance pays.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/money.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

inline constexpr Nanos kDefaultMinStake = 100'000'000;  // 0.1 credit

struct StakeGrant {
  std::int64_t id = 0;
  Nanos amount = 0;  // nano-credits
  std::vector<std::string> providers;
  std::int64_t not_before = 0;  // Unix seconds
  std::int64_t expires = 0;     // Unix seconds, 0 = never
  bool revoked = false;
};

std::string stake_account(std::int64_t grant_id);
std::string allowance_account(std::string_view date, std::int64_t grant_id);
bool is_allowance_account(std::string_view account);

bool stake_active(const StakeGrant& grant, std::int64_t now_s);
// The grants whose bucket day `now` opens: every active one when their total reaches
// `min_stake`, else none.
std::vector<const StakeGrant*> grants_to_open(const std::vector<StakeGrant>& grants,
                                              std::int64_t now_s, Nanos min_stake);
// Indices into `buckets` that may pay for `provider`, in spending order.
std::vector<std::size_t> spending_order(const std::vector<StakeGrant>& buckets,
                                        std::string_view provider);

// Stake grants that could have a bucket on the UTC day starting at `day_start_s`
// (not expired before it), oldest first.
Result<std::vector<StakeGrant>> load_stake_grants(sql::Db& db, std::int64_t day_start_s);
// The same through `stmt`, prepared once from kStakeGrantsQuery (the writer runs it often).
inline constexpr const char* kStakeGrantsQuery =
    "SELECT id, amount, providers, not_before, expires, revoked_ms FROM grants "
    "WHERE kind = 'stake' AND (expires = 0 OR expires > ?) ORDER BY id";
Result<std::vector<StakeGrant>> load_stake_grants(sql::Stmt& stmt, std::int64_t day_start_s);

// Providers as stored in the grants table: sorted ids joined by ','.
std::string join_scope(const std::vector<std::string>& providers);
std::vector<std::string> split_scope(std::string_view text);

}  // namespace perdiem::wallet
