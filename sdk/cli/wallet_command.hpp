// `perdiem wallet ...`: keys, grants, balances, the ledger and receipts, through the public
// SDK only (perdiem/wallet.hpp).
#pragma once

#include <string>
#include <vector>

namespace perdiem::cli {

// Runs `perdiem wallet ARGS...` (`args` are the words after "wallet"). Results go to
// stdout, diagnostics and errors ("perdiem: <kind>: <message>") to stderr. Returns the
// exit status: 0 success (for the verify commands: valid), 1 failure (or invalid),
// 2 usage error.
int wallet_main(const std::vector<std::string>& args);

// What `perdiem wallet --help` prints.
std::string wallet_help_text();

}  // namespace perdiem::cli
