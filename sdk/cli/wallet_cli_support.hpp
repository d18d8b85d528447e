// What the `perdiem wallet` subcommands share: exit codes, error printing, option
// parsing, file input and output, and table printing. Uses only the public SDK.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/wallet.hpp"

namespace perdiem::cli::wallet_cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Grant and receipt files are small; an exported run of receipts may be large.
constexpr std::size_t kMaxInputBytes = 64u << 20;
// `--not-before now` is backdated this much, so a holder whose clock runs a little behind
// the issuer's can still import the grant at once.
constexpr std::int64_t kClockSkewSeconds = 300;

// Prints "perdiem: kind: message" and returns the exit code for it.
int fail(const Error& error);
// A usage error pointing at the help of `command` ("wallet": `perdiem wallet --help`;
// empty: `perdiem --help`).
Error usage_error(const std::string& message, std::string_view command = "wallet");

// Whether a command's words ask for its help: "help" or "-h" first, or "--help" anywhere
// before "--" (after it, every word is an argument; "-h" later may be an option's value,
// as in `memory search --ns -h`).
bool asks_for_help(const std::vector<std::string>& args);

// One subcommand's options and argument count.
struct Spec {
  std::string_view name;
  std::vector<std::string_view> valued;  // options that take a value
  std::vector<std::string_view> flags;   // options that take none
  std::size_t min_args = 0;
  std::size_t max_args = 0;
  std::string_view args_name;          // for the error when the count is wrong
  std::string_view command{"wallet"};  // the command word before `name` in messages
};

struct Words {
  std::map<std::string, std::string, std::less<>> values;
  std::set<std::string, std::less<>> flags;
  std::vector<std::string> args;

  bool flag(std::string_view name) const { return flags.count(name) != 0; }
  const std::string* value(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }
};

// "--name VALUE", "--name=VALUE" and flags, in any order with the arguments; after "--"
// every word is an argument (a message may begin with "--"). words[0] is the subcommand.
Result<Words> parse_words(const std::vector<std::string>& words, const Spec& spec);

// A file's text ("-" reads stdin), at most kMaxInputBytes.
Result<std::string> read_input(const std::string& path);
[[nodiscard]] Status write_output(const std::string& path, const std::string& text);

// PERDIEM_KDF_LEVEL (testing only): moderate (default), interactive or min.
Result<KdfLevel> kdf_level();
Result<Secret> passphrase_for(const std::string& home);
std::int64_t now_seconds();
std::string scope_text(const std::vector<std::string>& providers);
std::string credits_text(Nanos amount);
// Left-aligned columns, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows);

// The subcommands that read the ledger (wallet_ledger_commands.cpp).
int cmd_balance(const std::string& home, const Words& words);
int cmd_history(const std::string& home, const Words& words);
int cmd_verify(const std::string& home, const Words& words);
int cmd_prices(const std::string& home, const Words& words);
int cmd_receipts(const std::string& home, const Words& words);
int cmd_verify_receipt(const Words& words);

}  // namespace perdiem::cli::wallet_cli
