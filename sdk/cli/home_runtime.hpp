// What every command that runs models takes from PERDIEM_HOME: the wallet that pays, and
// the providers and routes of config.json with the health file beside it.
#pragma once

#include <memory>

#include "perdiem/perdiem.hpp"

namespace perdiem::cli {

// The wallet in PERDIEM_HOME, opened with its passphrase; null when there is none (the
// runtime then uses its own empty wallet: free providers only).
Result<std::shared_ptr<WalletHandle>> open_home_wallet();

// config.json's "providers", "models" and "routing", with health kept in
// PERDIEM_HOME/health.json when the home exists; empty options without a home.
Result<RoutingOptions> home_routing();

// PERDIEM_HOME/prices.json without the providers config.json prices itself: the prices
// a run adds to the wallet's (RuntimeOptions::prices). Empty without a home.
Result<std::vector<PriceEntry>> home_refreshed_prices();

}  // namespace perdiem::cli
