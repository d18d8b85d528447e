// The wallet module's values, copied into the public structs of perdiem/wallet.hpp.
#pragma once

#include "perdiem/wallet.hpp"
#include "wallet/balance.hpp"
#include "wallet/grants.hpp"
#include "wallet/ledger.hpp"
#include "wallet/receipts.hpp"

namespace perdiem::sdk {

GrantInfo to_public(const wallet::Grant& grant, std::int64_t id = 0);
ReceiptInfo to_public(const wallet::Receipt& receipt);
WalletBalance to_public(const wallet::Balance& balance);
LedgerRow to_public(const wallet::LedgerEntry& entry);
WalletCheck to_public(const wallet::VerifyReport& report);

}  // namespace perdiem::sdk
