// perdiem's wallet, as applications and the `perdiem wallet` command see it.
//
// A wallet lives in a home directory (see home_directory()):
//   keystore.json  the private key, sealed under a passphrase (Argon2id, XChaCha20-Poly1305)
//   wallet.db      the ledger: grants, allowances, reservations, receipts (SQLite)
//   config.json    trusted grant issuers, the minimum stake and price sheets
// Credits enter only as grants signed by an issuer listed in config.json; each staked
// credit pays $1 of compute per UTC day, a USD grant adds a balance that does not expire.
// See docs/wallet.md for the concepts and the command line.
//
// Money is an integer: Nanos are nano-USD (1 USD = 1,000,000,000) or, for stakes,
// nano-credits. Amounts in JSON are exact decimal strings ("2.5"), never numbers.
// Errors are perdiem::Result values (perdiem/error.hpp); nothing here throws on expected
// failures, and no error message, JSON form or value here ever contains a secret.
// Thread-safety: free functions and static members are safe to call concurrently;
// a WalletHandle may be shared by threads (every member may be called concurrently);
// Secret is move-only and not synchronised.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "perdiem/export.h"

namespace perdiem {

// ---- Money -----------------------------------------------------------------------------

using Nanos = std::int64_t;
inline constexpr Nanos kNanosPerUsd = 1'000'000'000;

// Parses a non-negative decimal amount exactly: "2.5", "$1.50", "0.000000001". At most nine
// significant decimals. invalid_argument (naming the input) on anything else.
PERDIEM_API Result<Nanos> parse_usd(std::string_view text);
// The shortest exact decimal: 2'500'000'000 -> "2.5"; parse_usd(format_usd(x)) == x.
PERDIEM_API std::string format_usd(Nanos amount);
// For people: "$2.50", "$0.000123", "-$1.00" (at least two decimals, never rounded).
PERDIEM_API std::string format_usd_display(Nanos amount);

// ---- Time ------------------------------------------------------------------------------

// "2025-01-01T00:00:00Z" for a time in Unix seconds.
PERDIEM_API std::string format_utc(std::int64_t unix_seconds);
// Unix seconds of "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DDTHH:MM[:SS]Z", years 1970-9999.
// invalid_argument otherwise (only UTC, written with 'Z', is accepted).
PERDIEM_API Result<std::int64_t> parse_utc(std::string_view text);

// ---- Home directory --------------------------------------------------------------------

// $PERDIEM_HOME if set, else $XDG_DATA_HOME/perdiem, else $HOME/.local/share/perdiem
// (DESIGN.md, Storage). config error when none of the variables is set. Does not create it.
PERDIEM_API Result<std::string> home_directory();

struct HomeLayout {
  std::string home;
  std::string keystore;   // <home>/keystore.json
  std::string wallet_db;  // <home>/wallet.db
  std::string config;     // <home>/config.json
};
PERDIEM_API HomeLayout home_layout(const std::string& home);

// ---- Secrets ---------------------------------------------------------------------------

namespace detail {
struct SecretAccess;
struct WalletAccess;
}

// A passphrase (or other secret) in locked memory that is wiped when destroyed. It cannot
// be copied or printed.
class PERDIEM_API Secret {
 public:
  // PERDIEM_PASSPHRASE if set, else a prompt on the terminal with echo off. Fails with
  // invalid_argument for an empty or over-long (1 KiB) passphrase, and with config when
  // there is neither the variable nor a terminal (the message says to set the variable).
  // WARNING: a passphrase in the environment stays in this process's environment.
  static Result<Secret> read_passphrase(std::string_view prompt);
  // For a new passphrase: like read_passphrase, but a prompted one is asked twice and must
  // match (invalid_argument otherwise).
  static Result<Secret> read_new_passphrase(std::string_view prompt,
                                            std::string_view repeat_prompt);
  // Copies `text` into locked memory.
  // WARNING: the caller still holds `text` and must wipe it; prefer read_passphrase.
  static Secret copy_of(std::string_view text);

  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  bool empty() const;

 private:
  struct Impl;
  explicit Secret(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct detail::SecretAccess;
};

// ---- Configuration ---------------------------------------------------------------------

// A price per provider and model; model "*" is the provider's default. Nano-USD per
// million tokens, plus a flat price per request.
struct PriceEntry {
  std::string provider;
  std::string model;
  Nanos input_per_mtok = 0;
  Nanos output_per_mtok = 0;
  Nanos cached_input_per_mtok = 0;
  Nanos per_request = 0;
};

// The wallet's part of <home>/config.json:
//   {"wallet": {"trusted_issuers": ["0x..."], "min_stake": "0.1"},
//    "prices": [{"provider": "venice", "model": "llama-3.3-70b", "input": "0.7",
//                "output": "2.8", "cached_input": "0.35", "request": "0"}, ...]}
// Other top-level keys are left to other parts of perdiem.
struct WalletConfig {
  std::string path;                          // the file read
  bool found = false;                        // false: the file is missing, defaults apply
  std::vector<std::string> trusted_issuers;  // EIP-55 addresses; default none
  Nanos min_stake = 100'000'000;             // nano-credits; default 0.1 credit
  std::vector<PriceEntry> prices;            // sorted by provider, then model; default none
};

// Reads <home>/config.json. A missing file gives the defaults; a malformed one fails with
// kind config and a message naming the file and the field.
PERDIEM_API Result<WalletConfig> load_wallet_config(const std::string& home);

// ---- Values ----------------------------------------------------------------------------

enum class GrantKind { stake, usd };
PERDIEM_API std::string_view to_string(GrantKind kind);

// What an issuer signs. The issuer is the signing wallet.
struct GrantRequest {
  std::string holder;  // the receiving wallet's address
  GrantKind kind = GrantKind::usd;
  Nanos amount = 0;    // nano-credits for stake, nano-USD for usd; must be > 0
  std::vector<std::string> providers{"*"};  // provider ids the credits pay for; "*" = any
  std::int64_t not_before = 0;  // Unix seconds
  std::int64_t expires = 0;     // Unix seconds, exclusive; 0 = never
  std::string nonce;            // 1-128 of [A-Za-z0-9._:/@+-]; "" = a random one
};

struct GrantInfo {
  std::int64_t id = 0;  // the wallet's id for an accepted grant; 0 otherwise
  std::string issuer;
  std::string holder;
  GrantKind kind = GrantKind::usd;
  Nanos amount = 0;
  std::vector<std::string> providers;
  std::int64_t not_before = 0;
  std::int64_t expires = 0;
  std::string nonce;
};

// What WalletHandle::import accepted: a grant, or the revocation of an earlier stake
// grant (then `grant` carries only issuer, holder and nonce).
struct ImportResult {
  bool revocation = false;
  GrantInfo grant;
};

struct AllowanceBucket {
  std::int64_t grant = 0;
  std::vector<std::string> providers;  // {"*"} = any
  Nanos daily = 0;  // what the bucket holds at the start of the day
  Nanos left = 0;   // what it can still pay today
};

struct WalletBalance {
  std::string address;
  std::string day;          // today, UTC, "YYYY-MM-DD"
  Nanos allowance = 0;      // today's allowance left (renews at 00:00 UTC, never carries over)
  Nanos usd = 0;            // the USD balance (negative: a debt from overrun costs)
  Nanos reserved = 0;       // held by calls in flight (already out of the two above)
  Nanos staked = 0;         // active stake, nano-credits
  Nanos min_stake = 0;      // nano-credits needed before any allowance
  bool below_min_stake = false;
  std::vector<AllowanceBucket> buckets;
};

// One ledger entry. `amount` is the signed change to `account`: nano-credits for
// "stake:<grant>" accounts (in_credits), nano-USD for every other account.
struct LedgerRow {
  std::int64_t seq = 0;
  std::int64_t time_ms = 0;  // Unix milliseconds
  std::string kind;          // grant_usd, stake, revoke, allowance, reserve, settle, ...
  std::string account;
  Nanos amount = 0;
  bool in_credits = false;
  std::int64_t reservation = 0;  // 0 when the entry belongs to none
  std::string refs;              // a JSON object of references (grant, run, key, ...)
  std::string hash;              // "0x" + 64 hex digits: this entry's chain hash
};

struct WalletCheck {
  bool ok = true;
  std::int64_t entries = 0;
  std::int64_t first_bad_seq = 0;  // 0 when the problem is not one entry's
  std::string problem;             // what is wrong, for a person
};

// A receipt for one settled model call, signed by the wallet that paid.
struct ReceiptInfo {
  std::string id;
  std::string wallet;  // the signer's address
  bool final = true;   // false: an estimate from a broken stream, awaiting reconciliation
  std::string run;
  std::int64_t step = 0;
  std::string provider;
  std::string model;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  PriceEntry prices;  // provider and model repeated
  Nanos cost = 0;
  std::int64_t time_ms = 0;
  std::string request_hash;
  std::string response_hash;
  std::string signature;
  std::string json;  // the signed document, as stored
};

enum class KdfLevel {
  moderate,     // the default: about a second and 256 MiB to open
  interactive,  // 64 MiB
  min,          // WARNING: for tests only; offers no protection against guessing
};

struct CreateWalletOptions {
  KdfLevel kdf = KdfLevel::moderate;
  // A file holding a hex private key ("0x" optional) to import; "" = generate a key.
  // The file is read into locked memory; the key never appears in an error.
  std::string import_key_file;
};

// ---- The wallet ------------------------------------------------------------------------

class PERDIEM_API WalletHandle {
 public:
  // Creates <home> (mode 0700) if needed and a new keystore in it. Returns the address.
  // Fails with invalid_argument when a keystore exists (it is never overwritten) or the
  // key file is malformed, not_found when the key file is missing.
  static Result<std::string> create(const std::string& home, const Secret& passphrase,
                                    const CreateWalletOptions& options = {});
  // Opens the wallet with its key: everything below works. auth error for a wrong
  // passphrase (or an altered keystore), not_found without a keystore, storage for a
  // corrupt one, config for a malformed config.json.
  static Result<std::unique_ptr<WalletHandle>> open(const std::string& home,
                                                    const Secret& passphrase);
  // Opens the wallet by its address alone, without the passphrase: balance, history,
  // verify, receipts and import work; signing (sign_message, issue_*) fails with auth.
  static Result<std::unique_ptr<WalletHandle>> open_without_key(const std::string& home);
  // The address recorded in <home>/keystore.json (unauthenticated until opened).
  static Result<std::string> keystore_address(const std::string& home);

  ~WalletHandle();
  WalletHandle(const WalletHandle&) = delete;
  WalletHandle& operator=(const WalletHandle&) = delete;

  const std::string& address() const;  // EIP-55
  const std::string& home() const;
  const WalletConfig& config() const;   // as read when the wallet was opened
  bool has_key() const;

  // The EIP-191 (personal_sign) signature of `message`: "0x" + 130 hex digits, the same
  // bytes standard EVM tooling produces for this key and text.
  Result<std::string> sign_message(std::string_view message) const;
  // Whether `signature` is this address's EIP-191 signature of `message`. invalid_argument
  // for a malformed address or signature (bad syntax, not merely a wrong signer).
  static Result<bool> verify_message(std::string_view address, std::string_view message,
                                     std::string_view signature);

  // Signs a grant from this wallet to request.holder; returns the grant's JSON, for the
  // holder to import. invalid_argument for a bad holder, amount, provider id or nonce.
  Result<std::string> issue_grant(const GrantRequest& request) const;
  // Signs the revocation of this wallet's stake grant `nonce` to `holder` (effective from
  // the holder's next UTC day); returns its JSON.
  Result<std::string> issue_revocation(std::string_view holder, std::string_view nonce) const;

  // The ledger is opened (wallet.db created) on first use of a member below.

  // Accepts a signed grant or revocation (JSON). A grant must come from a trusted issuer,
  // name this wallet, be valid now and never have been accepted before; each refusal is
  // an error (auth: untrusted issuer or bad signature; invalid_argument otherwise) and
  // changes nothing.
  Result<ImportResult> import(std::string_view json);
  Result<WalletBalance> balance();
  // Entries after `after_seq`, oldest first, at most `limit`.
  Result<std::vector<LedgerRow>> history(std::int64_t after_seq = 0, std::int64_t limit = 1000);
  // Recomputes the hash chain and every balance; the report names the first inconsistency.
  Result<WalletCheck> verify();
  // Receipts of one run ("" = all), oldest first.
  Result<std::vector<ReceiptInfo>> receipts(std::string_view run = {});

  // Checks receipts anyone was given: `json` is one receipt or an array of them (as
  // to_json(receipts) writes). Each must be well formed and signed by its "wallet" and,
  // when `expected_wallet` is given, that wallet must be it. auth error for a bad or
  // unexpected signature, invalid_argument for a malformed receipt; the message says
  // which receipt (by position) failed.
  static Result<std::vector<ReceiptInfo>> verify_receipts(std::string_view json,
                                                          std::string_view expected_wallet = {});

 private:
  struct Impl;
  explicit WalletHandle(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  friend struct detail::WalletAccess;
};

// ---- JSON forms (what `perdiem wallet ... --json` prints) -------------------------------
// Pretty-printed, amounts as decimal strings, times as Unix seconds or milliseconds as
// named ("time_ms").

PERDIEM_API std::string to_json(const WalletBalance& balance);
PERDIEM_API std::string to_json(const std::vector<LedgerRow>& rows);
PERDIEM_API std::string to_json(const WalletCheck& check);
// {"prices": [...]} in the config.json form.
PERDIEM_API std::string to_json(const std::vector<PriceEntry>& prices);
// An array of the signed receipt documents, each verifiable by verify_receipts.
PERDIEM_API std::string to_json(const std::vector<ReceiptInfo>& receipts);
PERDIEM_API std::string to_json(const GrantInfo& grant);

}  // namespace perdiem
