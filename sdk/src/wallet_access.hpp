// SDK-internal access to what a public WalletHandle wraps, for the Runtime.
#pragma once

#include "perdiem/error.hpp"
#include "perdiem/wallet.hpp"
#include "wallet/prices.hpp"
#include "wallet/wallet.hpp"

namespace perdiem::detail {

struct WalletAccess {
  // The ledger behind `handle`, opened on first use.
  static Result<wallet::Wallet*> ledger(WalletHandle& handle);
  // The price sheet of the handle's config.json.
  static Result<wallet::PriceSheet> prices(const WalletHandle& handle);
};

}  // namespace perdiem::detail
