#include "sdk/src/runtime_wallet.hpp"

#include <stdlib.h>

#include <filesystem>

#include "base/clock.hpp"
#include "sdk/src/wallet_access.hpp"

namespace perdiem::sdk {

Result<std::unique_ptr<RuntimeWallet>> RuntimeWallet::from_handle(
    std::shared_ptr<WalletHandle> handle) {
  if (!handle) return make_error(ErrorKind::invalid_argument, "no wallet given");
  if (!handle->has_key()) {
    return make_error(ErrorKind::auth,
                      "the wallet was opened without its key, so it cannot sign receipts: "
                      "open it with WalletHandle::open and the passphrase");
  }
  Result<wallet::Wallet*> ledger = detail::WalletAccess::ledger(*handle);
  if (!ledger) return ledger.error();
  Result<wallet::PriceSheet> prices = detail::WalletAccess::prices(*handle);
  if (!prices) return prices.error();
  std::unique_ptr<RuntimeWallet> result(new RuntimeWallet());
  result->ledger_ = *ledger;
  result->prices_ = std::move(*prices);
  result->address_ = handle->address();
  result->handle_ = std::move(handle);
  return result;
}

Status RuntimeWallet::add_prices(const std::vector<PriceEntry>& entries) {
  for (const PriceEntry& entry : entries) {
    if (entry.provider.empty() || entry.model.empty()) {
      return make_error(ErrorKind::invalid_argument,
                        "a price needs a provider and a model (\"*\" for every model)");
    }
    if (entry.input_per_mtok < 0 || entry.output_per_mtok < 0 || entry.cached_input_per_mtok < 0 ||
        entry.per_request < 0) {
      return make_error(ErrorKind::invalid_argument,
                        "the price of " + entry.provider + "/" + entry.model + " is negative");
    }
    prices_.set(entry.provider, entry.model,
                wallet::Price{entry.input_per_mtok, entry.output_per_mtok,
                              entry.cached_input_per_mtok, entry.per_request});
  }
  return Status::success();
}

Result<std::unique_ptr<RuntimeWallet>> RuntimeWallet::ephemeral() {
  std::string dir = (std::filesystem::temp_directory_path() / "perdiem-run-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    return make_error(ErrorKind::storage,
                      "cannot create a temporary directory for the run's "
                      "wallet in " +
                          std::filesystem::temp_directory_path().string());
  }
  std::unique_ptr<RuntimeWallet> result(new RuntimeWallet());
  result->temp_dir_ = dir;  // removed by the destructor from here on
  wallet::WalletOptions options;
  options.signer = std::make_shared<const wallet::PrivateKey>(wallet::PrivateKey::generate());
  auto opened = wallet::Wallet::open(dir + "/wallet.db", base::system_clock(), options);
  if (!opened) return opened.error();
  result->owned_ = std::move(*opened);
  result->ledger_ = result->owned_.get();
  result->address_ = result->ledger_->address().to_string();
  return result;
}

RuntimeWallet::~RuntimeWallet() {
  owned_.reset();  // close wallet.db before removing its directory
  if (!temp_dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(temp_dir_, ignored);
  }
}

}  // namespace perdiem::sdk
