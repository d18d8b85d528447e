// `wallet verify`: everything that can be re-derived from the ledger is re-derived and
// compared with what is stored. Checks, in order, stopping at the first problem:
//  1. the hash chain and every account balance (verify_ledger);
//  2. every reservation against its own entries: open -> the buckets are down by the hold;
//     released -> nothing net; settled/unreconciled -> "spent" is up by the cost and the
//     buckets down by the same;
//  3. budget counters (run, agent/day) against the reservations;
//  4. stake accounts against the grants (a revoked stake is zero).
#pragma once

#include "perdiem/error.hpp"
#include "wallet/ledger.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {

// Reads in one transaction; storage failures are errors, inconsistencies a report.
Result<VerifyReport> verify_wallet(sql::Db& db);

}  // namespace perdiem::wallet
