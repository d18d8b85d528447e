// What the wallet holds right now, read from a consistent snapshot of wallet.db.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/money.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

struct AllowanceBucket {
  std::int64_t grant = 0;
  std::vector<std::string> providers;  // {"*"} = any
  Nanos daily = 0;  // the grant's stake: what the bucket started the day with
  Nanos left = 0;   // what it can still pay today
};

struct Balance {
  std::string day;          // today, UTC, "YYYY-MM-DD"
  Nanos allowance = 0;      // today's allowance left across every bucket
  Nanos usd = 0;            // the USD balance (negative: a debt from overrun costs)
  Nanos reserved = 0;       // held by open reservations (already out of the above)
  Nanos staked = 0;         // active stake, nano-credits
  bool below_min_stake = false;  // staked > 0 but under the minimum: no allowance
  std::vector<AllowanceBucket> buckets;

  // Today's allowance left that can pay for a call at `provider`.
  Nanos allowance_for(std::string_view provider) const;
};

// Whether a call of `amount` at `provider` is paid by today's allowance, USD, or neither.
struct Coverage {
  Nanos allowance_available = 0;  // for this provider
  Nanos usd_available = 0;
  bool covered_by_allowance = false;
  bool affordable = false;
};
Coverage coverage_of(const Balance& balance, std::string_view provider, Nanos amount);

// Reads the balance at `now_ms`. Buckets not yet opened today (the first write of the day
// opens them) are shown with what they will hold. Runs in one read transaction.
Result<Balance> read_balance(sql::Db& db, std::int64_t now_ms, Nanos min_stake);

}  // namespace perdiem::wallet
