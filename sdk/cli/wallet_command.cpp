#include "wallet_command.hpp"

#include "wallet_cli_support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string_view>

#include "perdiem/wallet.hpp"

namespace perdiem::cli {
namespace {

using namespace wallet_cli;

// ---- Keys --------------------------------------------------------------------------------

int cmd_init(const std::string& home, const Words& words) {
  const HomeLayout layout = home_layout(home);
  std::error_code ec;
  if (std::filesystem::symlink_status(layout.keystore, ec).type() !=
      std::filesystem::file_type::not_found)
    return fail(make_error(ErrorKind::invalid_argument,
                           "a wallet already exists at " + layout.keystore +
                               "; it is never overwritten (move it away or use another "
                               "PERDIEM_HOME)"));
  auto kdf = kdf_level();
  if (!kdf) return fail(kdf.error());
  CreateWalletOptions options;
  options.kdf = *kdf;
  if (const std::string* key_file = words.value("--from-key")) options.import_key_file = *key_file;
  auto passphrase = Secret::read_new_passphrase("New passphrase for the wallet in " + home + ": ",
                                                "Repeat the passphrase: ");
  if (!passphrase) return fail(passphrase.error());
  auto address = WalletHandle::create(home, *passphrase, options);
  if (!address) return fail(address.error());
  if (*kdf != KdfLevel::moderate)
    std::cerr << "perdiem: warning: PERDIEM_KDF_LEVEL=" << std::getenv("PERDIEM_KDF_LEVEL")
              << " makes the passphrase easy to guess; use it for tests only\n";
  std::cout << "address   " << *address << "\n"
            << "keystore  " << layout.keystore << "\n";
  std::cerr << "perdiem: " << (options.import_key_file.empty() ? "created" : "imported")
            << " the wallet key; keep the passphrase safe: without it the key cannot be "
               "recovered\n";
  return kExitOk;
}

int cmd_address(const std::string& home) {
  auto address = WalletHandle::keystore_address(home);
  if (!address) return fail(address.error());
  std::cout << *address << "\n";
  return kExitOk;
}

int cmd_sign(const std::string& home, const Words& words) {
  auto passphrase = passphrase_for(home);
  if (!passphrase) return fail(passphrase.error());
  auto wallet = WalletHandle::open(home, *passphrase);
  if (!wallet) return fail(wallet.error());
  auto signature = (*wallet)->sign_message(words.args[0]);
  if (!signature) return fail(signature.error());
  std::cout << *signature << "\n";
  return kExitOk;
}

int cmd_verify_message(const Words& words) {
  const std::string& address = words.args[0];
  auto valid = WalletHandle::verify_message(address, words.args[1], words.args[2]);
  if (!valid) {
    std::cout << "invalid: " << valid.error().message << "\n";
    return kExitFailed;
  }
  if (!*valid) {
    std::cout << "invalid: not a signature of this message by " << address << "\n";
    return kExitFailed;
  }
  std::cout << "valid: signed by " << address << "\n";
  return kExitOk;
}

// ---- Grants ------------------------------------------------------------------------------

Result<std::int64_t> time_option(const Words& words, std::string_view name, std::int64_t fallback) {
  const std::string* text = words.value(name);
  if (text == nullptr) return fallback;
  if (*text == "now") return now_seconds() - kClockSkewSeconds;
  if (*text == "never") {
    if (name == "--expires") return std::int64_t{0};
    return usage_error(std::string(name) + " cannot be 'never'");
  }
  auto seconds = parse_utc(*text);
  if (!seconds) return usage_error(std::string(name) + ": " + seconds.error().message);
  return *seconds;
}

Result<GrantRequest> grant_request(const Words& words) {
  GrantRequest request;
  const std::string* to = words.value("--to");
  const std::string* kind = words.value("--kind");
  const std::string* amount = words.value("--amount");
  if (to == nullptr || kind == nullptr || amount == nullptr)
    return usage_error("`perdiem wallet issue` needs --to, --kind and --amount");
  request.holder = *to;
  if (*kind == "stake") {
    request.kind = GrantKind::stake;
  } else if (*kind == "usd") {
    request.kind = GrantKind::usd;
  } else {
    return usage_error("--kind must be stake or usd");
  }
  auto nanos = parse_usd(*amount);
  if (!nanos) return usage_error("--amount: " + nanos.error().message);
  request.amount = *nanos;
  if (const std::string* providers = words.value("--providers")) {
    request.providers.clear();
    std::stringstream list(*providers);
    for (std::string id; std::getline(list, id, ',');) request.providers.push_back(id);
  }
  auto not_before = time_option(words, "--not-before", now_seconds() - kClockSkewSeconds);
  if (!not_before) return not_before.error();
  request.not_before = *not_before;
  auto expires = time_option(words, "--expires", 0);
  if (!expires) return expires.error();
  request.expires = *expires;
  if (const std::string* nonce = words.value("--nonce")) request.nonce = *nonce;
  return request;
}

int emit_document(const Words& words, const std::string& json, std::string_view what) {
  if (const std::string* out = words.value("--out")) {
    Status st = write_output(*out, json);
    if (!st.ok()) return fail(st.error());
    std::cout << "wrote the " << what << " to " << *out << "\n";
  } else {
    std::cout << json << "\n";
  }
  return kExitOk;
}

int cmd_issue(const std::string& home, const Words& words) {
  auto request = grant_request(words);
  if (!request) return fail(request.error());
  auto passphrase = passphrase_for(home);
  if (!passphrase) return fail(passphrase.error());
  auto wallet = WalletHandle::open(home, *passphrase);
  if (!wallet) return fail(wallet.error());
  auto grant = (*wallet)->issue_grant(*request);
  if (!grant) return fail(grant.error());
  return emit_document(words, *grant, "grant");
}

int cmd_revoke(const std::string& home, const Words& words) {
  const std::string* to = words.value("--to");
  const std::string* nonce = words.value("--nonce");
  if (to == nullptr || nonce == nullptr)
    return fail(usage_error("`perdiem wallet revoke` needs --to and --nonce"));
  auto passphrase = passphrase_for(home);
  if (!passphrase) return fail(passphrase.error());
  auto wallet = WalletHandle::open(home, *passphrase);
  if (!wallet) return fail(wallet.error());
  auto revocation = (*wallet)->issue_revocation(*to, *nonce);
  if (!revocation) return fail(revocation.error());
  return emit_document(words, *revocation, "revocation");
}

int cmd_import(const std::string& home, const Words& words) {
  auto text = read_input(words.args[0]);
  if (!text) return fail(text.error());
  auto wallet = WalletHandle::open_without_key(home);
  if (!wallet) return fail(wallet.error());
  auto imported = (*wallet)->import(*text);
  if (!imported) return fail(imported.error());
  const GrantInfo& g = imported->grant;
  if (words.flag("--json")) {
    std::cout << to_json(g) << "\n";
  } else if (imported->revocation) {
    std::cout << "revoked grant '" << g.nonce << "' from " << g.issuer
              << "; its allowance ends at the next 00:00 UTC\n";
  } else {
    std::string amount = g.kind == GrantKind::stake ? credits_text(g.amount) + " (" +
                                                          format_usd_display(g.amount) + " a day)"
                                                    : format_usd_display(g.amount) + " USD balance";
    std::cout << "accepted grant " << g.id << " from " << g.issuer << ": " << amount << ", for "
              << scope_text(g.providers) << ", valid from " << format_utc(g.not_before)
              << (g.expires == 0 ? std::string(", never expires")
                                 : " until " + format_utc(g.expires))
              << "\n";
  }
  return kExitOk;
}

// ---- Dispatch ----------------------------------------------------------------------------

const std::vector<Spec>& specs() {
  static const std::vector<Spec> kSpecs = {
      {"init", {"--from-key"}, {}, 0, 0, ""},
      {"address", {}, {}, 0, 0, ""},
      {"sign", {}, {}, 1, 1, "one MESSAGE"},
      {"verify-message", {}, {}, 3, 3, "ADDRESS MESSAGE SIGNATURE"},
      {"issue",
       {"--to", "--kind", "--amount", "--providers", "--not-before", "--expires", "--nonce",
        "--out"},
       {},
       0,
       0,
       ""},
      {"revoke", {"--to", "--nonce", "--out"}, {}, 0, 0, ""},
      {"import", {}, {"--json"}, 1, 1, "one FILE (or - for stdin)"},
      {"balance", {}, {"--json"}, 0, 0, ""},
      {"history", {}, {"--json"}, 0, 0, ""},
      {"verify", {}, {"--json"}, 0, 0, ""},
      {"prices", {}, {"--json"}, 0, 0, ""},
      {"receipts", {"--run"}, {"--json"}, 0, 0, ""},
      {"verify-receipt", {"--address"}, {}, 1, 1, "one FILE (or - for stdin)"},
  };
  return kSpecs;
}

int dispatch(const std::string& name, const std::string& home, const Words& words) {
  if (name == "init") return cmd_init(home, words);
  if (name == "address") return cmd_address(home);
  if (name == "sign") return cmd_sign(home, words);
  if (name == "verify-message") return cmd_verify_message(words);
  if (name == "issue") return cmd_issue(home, words);
  if (name == "revoke") return cmd_revoke(home, words);
  if (name == "import") return cmd_import(home, words);
  if (name == "balance") return cmd_balance(home, words);
  if (name == "history") return cmd_history(home, words);
  if (name == "verify") return cmd_verify(home, words);
  if (name == "prices") return cmd_prices(home, words);
  if (name == "receipts") return cmd_receipts(home, words);
  return cmd_verify_receipt(words);
}

}  // namespace

int wallet_main(const std::vector<std::string>& args) {
  if (args.empty()) return fail(usage_error("`perdiem wallet` needs a command"));
  const std::string& name = args[0];
  if (asks_for_help(args)) {
    std::cout << wallet_help_text();
    return kExitOk;
  }
  auto spec =
      std::find_if(specs().begin(), specs().end(), [&](const Spec& s) { return s.name == name; });
  if (spec == specs().end()) return fail(usage_error("unknown wallet command '" + name + "'"));
  auto words = parse_words(args, *spec);
  if (!words) return fail(words.error());
  // These need no wallet, so no home either.
  if (name == "verify-message" || name == "verify-receipt") return dispatch(name, "", *words);
  auto home = home_directory();
  if (!home) return fail(home.error());
  return dispatch(name, *home, *words);
}

std::string wallet_help_text() {
  return R"(perdiem wallet: the agent's keys, credits, ledger and receipts.

Usage:
  perdiem wallet init [--from-key FILE]     create the wallet (a new key, or the hex key in FILE)
  perdiem wallet address                    print the wallet's address
  perdiem wallet sign MESSAGE               print the EIP-191 (personal_sign) signature
  perdiem wallet verify-message ADDRESS MESSAGE SIGNATURE
                                            exit 0 if valid, 1 if not
  perdiem wallet issue --to ADDRESS --kind stake|usd --amount N [OPTIONS]
                                            sign a grant from this wallet; prints its JSON
  perdiem wallet revoke --to ADDRESS --nonce NONCE [--out FILE]
                                            sign the revocation of a stake grant
  perdiem wallet import FILE [--json]       accept a grant or revocation (FILE - is stdin)
  perdiem wallet balance [--json]           today's allowance left, USD balance, reserved
  perdiem wallet history [--json]           every ledger entry, oldest first
  perdiem wallet verify [--json]            recompute the hash chain and balances
  perdiem wallet prices [--json]            the price sheet from config.json
  perdiem wallet receipts [--run ID] [--json]
                                            signed receipts of settled calls
  perdiem wallet verify-receipt FILE [--address ADDRESS]
                                            check receipts (one or an array); exit 0 if valid

Options for `issue`:
  --providers a,b|*     providers the credits pay for (default * = any)
  --not-before ISO|now  start of validity, UTC as 2025-01-31 or 2025-01-31T18:00:00Z
                        (default now, backdated 5 minutes for clock skew)
  --expires ISO|never   end of validity, exclusive (default never)
  --nonce TEXT          the grant's unique id (default random); revoke by it
  --out FILE            write the JSON to FILE instead of stdout

Files live in PERDIEM_HOME (default $XDG_DATA_HOME/perdiem, else ~/.local/share/perdiem):
keystore.json, wallet.db and config.json, which lists the issuers whose grants this
wallet accepts ({"wallet": {"trusted_issuers": ["0x..."]}}) and the prices.

Environment:
  PERDIEM_HOME          the wallet's directory
  PERDIEM_PASSPHRASE    the passphrase (else you are prompted on the terminal)
  PERDIEM_KDF_LEVEL     moderate (default), interactive, or min: FOR TESTS ONLY, it makes
                        a new keystore's passphrase cheap to guess

Exit status: 0 success (valid), 1 failure (invalid), 2 usage error.
See docs/wallet.md for a guide.
)";
}

}  // namespace perdiem::cli
