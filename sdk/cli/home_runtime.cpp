#include "home_runtime.hpp"

#include <filesystem>

namespace perdiem::cli {

Result<std::shared_ptr<WalletHandle>> open_home_wallet() {
  using Handle = std::shared_ptr<WalletHandle>;
  auto home = home_directory();
  if (!home) return Handle();
  auto address = WalletHandle::keystore_address(*home);
  if (!address) {
    if (address.error().kind == ErrorKind::not_found) return Handle();
    return address.error();
  }
  auto passphrase = Secret::read_passphrase("Passphrase for wallet " + *address + ": ");
  if (!passphrase) return passphrase.error();
  auto wallet = WalletHandle::open(*home, *passphrase);
  if (!wallet) return wallet.error();
  return Handle(std::move(*wallet));
}

Result<RoutingOptions> home_routing() {
  auto home = home_directory();
  if (!home) return RoutingOptions{};
  Result<RoutingOptions> routing = routing_from_config(*home);
  if (!routing) return routing.error();
  std::error_code error;
  if (std::filesystem::is_directory(*home, error)) routing->health_path = *home + "/health.json";
  return routing;
}

Result<std::vector<PriceEntry>> home_refreshed_prices() {
  auto home = home_directory();
  if (!home) return std::vector<PriceEntry>{};
  Result<std::vector<PriceEntry>> refreshed = load_refreshed_prices(*home);
  if (!refreshed) return refreshed.error();
  Result<WalletConfig> config = load_wallet_config(*home);
  if (!config) return config.error();
  return prices_below_config(std::move(*refreshed), config->prices);
}

}  // namespace perdiem::cli
