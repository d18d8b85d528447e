// The wallet a Runtime pays from: the owner's (a WalletHandle the app opened) or, when
// there is none, an empty wallet that lives as long as the runtime and pays only for
// free providers. Either way every model call is reserved and settled.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/wallet.hpp"
#include "wallet/prices.hpp"
#include "wallet/wallet.hpp"

namespace perdiem::sdk {

class RuntimeWallet {
 public:
  // Uses `handle` (which must have its key: receipts are signed).
  static Result<std::unique_ptr<RuntimeWallet>> from_handle(std::shared_ptr<WalletHandle> handle);
  // A fresh key and wallet.db in a private temporary directory, removed on destruction.
  static Result<std::unique_ptr<RuntimeWallet>> ephemeral();

  ~RuntimeWallet();
  RuntimeWallet(const RuntimeWallet&) = delete;
  RuntimeWallet& operator=(const RuntimeWallet&) = delete;

  // Adds `entries` to the price sheet, replacing the config file's price for the same
  // provider and model. invalid_argument for a negative price or an empty provider.
  [[nodiscard]] Status add_prices(const std::vector<PriceEntry>& entries);

  wallet::Wallet& ledger() { return *ledger_; }
  const wallet::PriceSheet& prices() const { return prices_; }
  const std::string& address() const { return address_; }
  bool is_ephemeral() const { return !temp_dir_.empty(); }

 private:
  RuntimeWallet() = default;

  std::shared_ptr<WalletHandle> handle_;   // keeps the owner's wallet open
  std::unique_ptr<wallet::Wallet> owned_;  // the ephemeral wallet
  wallet::Wallet* ledger_ = nullptr;
  wallet::PriceSheet prices_;
  std::string address_;
  std::string temp_dir_;
};

}  // namespace perdiem::sdk
