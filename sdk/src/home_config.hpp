// PERDIEM_HOME: where a wallet's files live, and the wallet's part of config.json.
//   <home>/keystore.json   <home>/wallet.db   <home>/config.json
// The public side (home_directory, home_layout, load_wallet_config) is declared in
// perdiem/wallet.hpp; these are the SDK-internal helpers behind it.
// Thread-safety: pure functions and independent file reads; call from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/wallet.hpp"
#include "wallet/keys.hpp"

namespace perdiem::sdk {

// The largest config.json read: it is edited by hand, not a database.
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;

// Pure: the wallet settings in the text of a config file; `path` names the file in
// errors. Fails with kind config, naming the file and the field ("wallet.min_stake").
Result<WalletConfig> parse_wallet_config(std::string_view text, const std::string& path);

// The trusted issuers as addresses (parse_wallet_config has validated them).
std::vector<wallet::Address> trusted_addresses(const WalletConfig& config);

// Creates `home` with mode 0700 (missing parents with the default mode). An existing
// directory is left as it is. storage error when it cannot be created.
[[nodiscard]] Status ensure_home(const std::string& home);

// Reads a whole file of at most `max_bytes` (larger is a storage error naming `what`).
// not_found when it does not exist.
Result<std::string> read_small_file(const std::string& path, std::size_t max_bytes,
                                    std::string_view what);

}  // namespace perdiem::sdk
