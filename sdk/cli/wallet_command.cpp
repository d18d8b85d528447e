#include "wallet_command.hpp"

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

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Grant and receipt files are small; an exported run of receipts may be large.
constexpr std::size_t kMaxInputBytes = 64u << 20;
// `--not-before now` is backdated this much, so a holder whose clock runs a little behind
// the issuer's can still import the grant at once.
constexpr std::int64_t kClockSkewSeconds = 300;

int fail(const Error& error) {
  std::cerr << "perdiem: " << error.describe() << "\n";
  return error.kind == ErrorKind::usage ? kExitUsage : kExitFailed;
}

Error usage_error(const std::string& message) {
  return make_error(ErrorKind::usage, message + " (see `perdiem wallet --help`)");
}

// ---- Command-line words ------------------------------------------------------------------

struct Spec {
  std::string_view name;
  std::vector<std::string_view> valued;  // options that take a value
  std::vector<std::string_view> flags;   // options that take none
  std::size_t min_args = 0;
  std::size_t max_args = 0;
  std::string_view args_name;  // for the error when the count is wrong
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

bool listed(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// "--name VALUE", "--name=VALUE" and flags, in any order with the arguments; after "--"
// every word is an argument (a message may begin with "--").
Result<Words> parse_words(const std::vector<std::string>& words, const Spec& spec) {
  Words out;
  bool options_done = false;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (options_done || word.size() < 2 || word.compare(0, 2, "--") != 0) {
      out.args.push_back(word);
      continue;
    }
    if (word == "--") {
      options_done = true;
      continue;
    }
    std::size_t eq = word.find('=');
    std::string name = word.substr(0, eq);
    if (listed(spec.flags, name) && eq == std::string::npos) {
      out.flags.insert(name);
    } else if (listed(spec.valued, name)) {
      if (eq != std::string::npos) {
        out.values[name] = word.substr(eq + 1);
      } else if (i + 1 < words.size()) {
        out.values[name] = words[++i];
      } else {
        return usage_error(name + " needs a value");
      }
    } else {
      return usage_error("unknown option '" + name + "' for `perdiem wallet " +
                         std::string(spec.name) + "`");
    }
  }
  if (out.args.size() < spec.min_args || out.args.size() > spec.max_args) {
    std::string expected = spec.max_args == 0 ? "no arguments" : std::string(spec.args_name);
    return usage_error("`perdiem wallet " + std::string(spec.name) + "` takes " + expected);
  }
  return out;
}

// ---- Small helpers -----------------------------------------------------------------------

Result<std::string> read_input(const std::string& path) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(ErrorKind::not_found, "cannot open " + path);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) return make_error(ErrorKind::storage, "cannot read " + path);
    text = buffer.str();
  }
  if (text.size() > kMaxInputBytes)
    return make_error(ErrorKind::invalid_argument, path + " is too large");
  return text;
}

Status write_output(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text << "\n";
  out.flush();
  if (!out) return make_error(ErrorKind::storage, "cannot write " + path);
  return {};
}

Result<KdfLevel> kdf_level() {
  const char* level = std::getenv("PERDIEM_KDF_LEVEL");
  if (level == nullptr || std::string_view(level).empty() || std::string_view(level) == "moderate")
    return KdfLevel::moderate;
  if (std::string_view(level) == "interactive") return KdfLevel::interactive;
  if (std::string_view(level) == "min") return KdfLevel::min;
  return usage_error("PERDIEM_KDF_LEVEL must be moderate, interactive or min");
}

Result<Secret> passphrase_for(const std::string& home) {
  return Secret::read_passphrase("Passphrase for the wallet in " + home + ": ");
}

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string scope_text(const std::vector<std::string>& providers) {
  if (providers.size() == 1 && providers[0] == "*") return "any provider";
  std::string out;
  for (const auto& p : providers) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string credits_text(Nanos amount) {
  std::string text = format_usd(amount < 0 ? -amount : amount);
  return (amount < 0 ? "-" : "") + text + (text == "1" ? " credit" : " credits");
}

// Left-aligned columns, two spaces apart.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    line.erase(line.find_last_not_of(' ') + 1);
    std::cout << line << "\n";
  }
}

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

Result<std::int64_t> time_option(const Words& words, std::string_view name,
                                 std::int64_t fallback) {
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
    std::string amount = g.kind == GrantKind::stake
                             ? credits_text(g.amount) + " (" + format_usd_display(g.amount) + " a day)"
                             : format_usd_display(g.amount) + " USD balance";
    std::cout << "accepted grant " << g.id << " from " << g.issuer << ": " << amount << ", for "
              << scope_text(g.providers) << ", valid from " << format_utc(g.not_before)
              << (g.expires == 0 ? std::string(", never expires")
                                 : " until " + format_utc(g.expires))
              << "\n";
  }
  return kExitOk;
}

// ---- The ledger --------------------------------------------------------------------------

int cmd_balance(const std::string& home, const Words& words) {
  auto wallet = WalletHandle::open_without_key(home);
  if (!wallet) return fail(wallet.error());
  auto b = (*wallet)->balance();
  if (!b) return fail(b.error());
  if (words.flag("--json")) {
    std::cout << to_json(*b) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"wallet", b->address},
      {"day", b->day + " UTC (the allowance renews at 00:00 UTC)"},
      {"allowance", format_usd_display(b->allowance) + " left today"},
      {"usd", format_usd_display(b->usd)},
      {"reserved", format_usd_display(b->reserved) + " held by calls in flight"}};
  std::string staked = credits_text(b->staked);
  if (b->below_min_stake)
    staked += " (below the minimum stake of " + credits_text(b->min_stake) + ": no allowance)";
  rows.push_back({"staked", staked});
  for (const auto& bucket : b->buckets)
    rows.push_back({"  grant " + std::to_string(bucket.grant),
                    format_usd_display(bucket.left) + " of " + format_usd_display(bucket.daily) +
                        " left, for " + scope_text(bucket.providers)});
  print_table(rows);
  return kExitOk;
}

std::string signed_amount(const LedgerRow& row) {
  std::string text = row.in_credits ? credits_text(row.amount) : format_usd_display(row.amount);
  return row.amount > 0 ? "+" + text : text;
}

int cmd_history(const std::string& home, const Words& words) {
  auto wallet = WalletHandle::open_without_key(home);
  if (!wallet) return fail(wallet.error());
  std::vector<LedgerRow> rows;
  for (;;) {  // page through the whole ledger
    auto page = (*wallet)->history(rows.empty() ? 0 : rows.back().seq, 1000);
    if (!page) return fail(page.error());
    if (page->empty()) break;
    rows.insert(rows.end(), page->begin(), page->end());
  }
  if (words.flag("--json")) {
    std::cout << to_json(rows) << "\n";
    return kExitOk;
  }
  if (rows.empty()) {
    std::cout << "no ledger entries yet\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {
      {"SEQ", "TIME (UTC)", "KIND", "ACCOUNT", "AMOUNT", "RESERVATION"}};
  for (const auto& r : rows)
    table.push_back({std::to_string(r.seq), format_utc(r.time_ms / 1000), r.kind, r.account,
                     signed_amount(r), r.reservation == 0 ? "" : std::to_string(r.reservation)});
  print_table(table);
  return kExitOk;
}

int cmd_verify(const std::string& home, const Words& words) {
  auto wallet = WalletHandle::open_without_key(home);
  if (!wallet) return fail(wallet.error());
  auto check = (*wallet)->verify();
  if (!check) return fail(check.error());
  if (words.flag("--json")) {
    std::cout << to_json(*check) << "\n";
  } else if (check->ok) {
    std::cout << "ok: " << check->entries
              << " ledger entries; the hash chain and every balance check out\n";
  } else {
    std::cout << "inconsistent"
              << (check->first_bad_seq != 0 ? " at entry " + std::to_string(check->first_bad_seq)
                                            : std::string())
              << ": " << check->problem << "\n";
  }
  return check->ok ? kExitOk : kExitFailed;
}

int cmd_prices(const std::string& home, const Words& words) {
  auto config = load_wallet_config(home);
  if (!config) return fail(config.error());
  if (words.flag("--json")) {
    std::cout << to_json(config->prices) << "\n";
    return kExitOk;
  }
  if (config->prices.empty()) {
    std::cout << "no prices configured in " << config->path
              << " (add a \"prices\" list; see docs/wallet.md)\n";
    return kExitOk;
  }
  std::cout << "USD per million tokens; REQUEST is USD per call (from " << config->path << ")\n";
  std::vector<std::vector<std::string>> table = {
      {"PROVIDER", "MODEL", "INPUT", "OUTPUT", "CACHED INPUT", "REQUEST"}};
  for (const auto& p : config->prices)
    table.push_back({p.provider, p.model, format_usd(p.input_per_mtok),
                     format_usd(p.output_per_mtok), format_usd(p.cached_input_per_mtok),
                     format_usd(p.per_request)});
  print_table(table);
  return kExitOk;
}

// ---- Receipts ----------------------------------------------------------------------------

int cmd_receipts(const std::string& home, const Words& words) {
  auto wallet = WalletHandle::open_without_key(home);
  if (!wallet) return fail(wallet.error());
  const std::string* run = words.value("--run");
  auto receipts = (*wallet)->receipts(run == nullptr ? std::string() : *run);
  if (!receipts) return fail(receipts.error());
  if (words.flag("--json")) {
    std::cout << to_json(*receipts) << "\n";
    return kExitOk;
  }
  if (receipts->empty()) {
    std::cout << "no receipts" << (run == nullptr ? "" : " for run " + *run) << "\n";
    return kExitOk;
  }
  std::vector<std::vector<std::string>> table = {{"ID", "TIME (UTC)", "RUN", "STEP", "PROVIDER",
                                                  "MODEL", "IN", "OUT", "COST", "STATUS"}};
  for (const auto& r : *receipts)
    table.push_back({r.id, format_utc(r.time_ms / 1000), r.run, std::to_string(r.step),
                     r.provider, r.model, std::to_string(r.input_tokens),
                     std::to_string(r.output_tokens), format_usd_display(r.cost),
                     r.final ? "final" : "estimate"});
  print_table(table);
  return kExitOk;
}

int cmd_verify_receipt(const Words& words) {
  auto text = read_input(words.args[0]);
  if (!text) return fail(text.error());
  const std::string* address = words.value("--address");
  auto receipts = WalletHandle::verify_receipts(*text, address == nullptr ? "" : *address);
  if (!receipts) {
    std::cout << "invalid: " << receipts.error().message << "\n";
    return kExitFailed;
  }
  std::set<std::string> signers;
  for (const auto& r : *receipts) signers.insert(r.wallet);
  std::string by;
  for (const auto& s : signers) by += (by.empty() ? "" : ", ") + s;
  std::cout << "valid: " << receipts->size() << (receipts->size() == 1 ? " receipt" : " receipts")
            << " signed by " << by << "\n";
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
  bool wants_help = name == "--help" || name == "-h" || name == "help";
  for (const auto& word : args) {
    if (word == "--") break;
    wants_help |= word == "--help";
  }
  if (wants_help) {
    std::cout << wallet_help_text();
    return kExitOk;
  }
  auto spec = std::find_if(specs().begin(), specs().end(),
                           [&](const Spec& s) { return s.name == name; });
  if (spec == specs().end())
    return fail(usage_error("unknown wallet command '" + name + "'"));
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
