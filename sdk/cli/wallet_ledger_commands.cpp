// `perdiem wallet balance|history|verify|prices|receipts|verify-receipt`: the commands
// that read the ledger and receipts.
#include "wallet_cli_support.hpp"

#include <algorithm>
#include <iostream>
#include <string_view>

#include "perdiem/wallet.hpp"

namespace perdiem::cli::wallet_cli {

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
  std::vector<std::vector<std::string>> table = {
      {"ID", "TIME (UTC)", "RUN", "STEP", "PROVIDER", "MODEL", "IN", "OUT", "COST", "STATUS"}};
  for (const auto& r : *receipts)
    table.push_back({r.id, format_utc(r.time_ms / 1000), r.run, std::to_string(r.step), r.provider,
                     r.model, std::to_string(r.input_tokens), std::to_string(r.output_tokens),
                     format_usd_display(r.cost), r.final ? "final" : "estimate"});
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

}  // namespace perdiem::cli::wallet_cli
