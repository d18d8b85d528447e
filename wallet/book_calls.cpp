// Book operations for one model call: reserve, settle, release, reconcile, recover.
#include "wallet/book.hpp"

namespace perdiem::wallet {
namespace {

Error invalid(std::string message) {
  return make_error(ErrorKind::invalid_argument, std::move(message));
}

std::string res_name(std::int64_t id) { return "reservation " + std::to_string(id); }

}  // namespace

Result<Reservation> Book::reserve(const ReserveRequest& req) {
  const Budgets& b = req.budgets;
  if (req.worst_case < 0) return invalid("worst-case cost must not be negative");
  if (!valid_identifier(req.provider)) return invalid("invalid provider id '" + req.provider + "'");
  if (!req.idempotency_key.empty() && !valid_identifier(req.idempotency_key))
    return invalid("idempotency key must be 1-128 characters of [A-Za-z0-9._:/@+-]");
  if ((!b.run.empty() && !valid_identifier(b.run)) ||
      (!b.agent.empty() && !valid_identifier(b.agent)))
    return invalid("run and agent ids must be characters of [A-Za-z0-9._:/@+-]");

  if (!req.idempotency_key.empty()) {
    sql::ResetGuard guard(by_key_);
    by_key_.bind(1, req.idempotency_key);
    auto found = by_key_.step();
    if (!found) return found.error();
    if (*found) {
      std::int64_t id = by_key_.column_int(0);
      auto row = load_row(id);
      if (!row) return row.error();
      if (*row) return to_reservation(**row, /*replayed=*/true);
    }
  }

  // A tab (at_least set) takes what fits between at_least and worst_case.
  Nanos need = req.worst_case;
  const Nanos floor =
      req.at_least > 0 && req.at_least < req.worst_case ? req.at_least : req.worst_case;
  if (b.per_call_limit && floor > *b.per_call_limit)
    return make_refusal(ErrorKind::budget_exceeded,
                        "this call may cost up to " + format_usd_display(floor) +
                            ", more than the per-call limit of " +
                            format_usd_display(*b.per_call_limit),
                        floor, *b.per_call_limit);
  std::vector<std::string> scopes;
  if (!b.run.empty()) {
    std::string scope = run_scope(b.run);
    auto spent = budget(scope);
    if (!spent) return spent.error();
    if (b.run_limit && *spent + floor > *b.run_limit) {
      const Nanos left = std::max<Nanos>(0, *b.run_limit - *spent);
      return make_refusal(ErrorKind::budget_exceeded,
                          "run " + b.run + " budget exceeded: needed " + format_usd_display(floor) +
                              ", available " + format_usd_display(left) + " of " +
                              format_usd_display(*b.run_limit),
                          floor, left);
    }
    if (b.run_limit) need = std::min(need, *b.run_limit - *spent);
    scopes.push_back(std::move(scope));
  }
  if (!b.agent.empty()) {
    std::string scope = agent_day_scope(b.agent, today_);
    auto spent = budget(scope);
    if (!spent) return spent.error();
    if (b.agent_day_limit && *spent + floor > *b.agent_day_limit) {
      const Nanos left = std::max<Nanos>(0, *b.agent_day_limit - *spent);
      return make_refusal(ErrorKind::budget_exceeded,
                          "agent " + b.agent + " daily budget exceeded: needed " +
                              format_usd_display(floor) + ", available " +
                              format_usd_display(left) + " of " +
                              format_usd_display(*b.agent_day_limit) + " for " + today_,
                          floor, left);
    }
    if (b.agent_day_limit) need = std::min(need, *b.agent_day_limit - *spent);
    scopes.push_back(std::move(scope));
  }

  // Today's allowance for this provider first, then USD.
  std::vector<std::pair<std::string, Nanos>> sources;
  Nanos allowance = 0;
  for (std::size_t i : spending_order(buckets_, req.provider)) {
    std::string account = allowance_account(today_, buckets_[i].id);
    auto balance = ledger_->balance(account);
    if (!balance) return balance.error();
    Nanos available = std::max<Nanos>(0, *balance);
    allowance += available;
    sources.emplace_back(std::move(account), available);
  }
  auto usd = ledger_->balance("usd");
  if (!usd) return usd.error();
  Nanos usd_available = std::max<Nanos>(0, *usd);
  sources.emplace_back("usd", usd_available);
  if (allowance + usd_available < floor)
    return make_refusal(ErrorKind::insufficient_credits,
                        "insufficient credits for a call at " + req.provider + ": needed " +
                            format_usd_display(floor) + ", available " +
                            format_usd_display(allowance + usd_available) + " (" +
                            format_usd_display(allowance) + " of today's allowance, " +
                            format_usd_display(usd_available) + " USD)",
                        floor, allowance + usd_available);
  need = std::min(need, allowance + usd_available);
  Funding funding;
  Nanos missing = need;
  for (auto& [account, available] : sources) {
    Nanos take = std::min(available, missing);
    if (take > 0) funding.push_back(FundingPart{std::move(account), take, 0});
    missing -= take;
  }

  // Checks passed: write.
  ++writes_;
  if (req.idempotency_key.empty()) insert_row_.bind_null(1);
  else insert_row_.bind(1, req.idempotency_key);
  insert_row_.bind(2, "open").bind(3, req.provider).bind(4, b.run).bind(5, b.agent);
  insert_row_.bind(6, today_).bind(7, need).bind(8, 0).bind(9, encode_funding(funding));
  insert_row_.bind(10, options_.owner).bind(11, now_ms_).bind(12, now_ms_);
  Status st = insert_row_.run();
  if (!st.ok()) return st.error();
  Row row;
  row.id = db_.last_insert_rowid();
  row.provider = req.provider;
  row.run = b.run;
  row.agent = b.agent;
  row.agent_day = today_;
  row.owner = options_.owner;
  row.hold = need;
  row.funding = funding;

  RefsBuilder refs;
  refs.add("provider", req.provider);
  if (!b.run.empty()) refs.add("run", b.run);
  if (!req.idempotency_key.empty()) refs.add("key", req.idempotency_key);
  std::string refs_text = refs.str();
  for (const auto& part : funding) {
    auto seq = append("reserve", part.account, -part.held, row.id, refs_text);
    if (!seq) return seq.error();
  }
  for (const auto& scope : scopes) {
    st = add_budget(scope, need);
    if (!st.ok()) return st.error();
  }
  Reservation out = to_reservation(row, /*replayed=*/false);
  open_rows_.emplace(row.id, std::move(row));
  return out;
}

Result<Settlement> Book::settle(std::int64_t id, Nanos cost, bool final,
                                const std::optional<SignedReceipt>& receipt) {
  if (cost < 0) return invalid("cost must not be negative");
  auto loaded = load_row(id);
  if (!loaded) return loaded.error();
  if (!*loaded) return make_error(ErrorKind::not_found, "no " + res_name(id));
  Row row = std::move(**loaded);
  if (row.state == ReservationState::settled || row.state == ReservationState::unreconciled) {
    auto stored = load_receipt(id);
    if (!stored) return stored.error();
    return Settlement{id, row.state, row.cost, std::move(*stored), /*replayed=*/true};
  }
  if (row.state == ReservationState::released)
    return invalid(res_name(id) + " was released (the call failed); reserve again to retry");
  if (receipt && (receipt->receipt.provider != row.provider || receipt->receipt.run != row.run ||
                  receipt->receipt.cost != cost))
    return invalid("the receipt does not match " + res_name(id));

  Funding charged = allocate_charge(row.funding, cost);
  RefsBuilder refs;
  refs.add("provider", row.provider);
  if (!row.run.empty()) refs.add("run", row.run);
  if (!final) refs.add("status", "estimate");
  auto seq = append("settle", "spent", cost, id, refs.str());
  if (!seq) return seq.error();
  for (const auto& part : charged) {
    Nanos unused = part.held - part.charged;
    if (unused == 0) continue;
    // Positive: the unused hold goes back. Negative: the cost overran the hold.
    seq = append(unused > 0 ? "release" : "settle", part.account, unused, id, "{}");
    if (!seq) return seq.error();
  }
  row.state = final ? ReservationState::settled : ReservationState::unreconciled;
  Nanos delta = cost - row.hold;
  row.cost = cost;
  row.funding = std::move(charged);
  Status st = update_row(row, receipt ? &*receipt : nullptr);
  if (!st.ok()) return st.error();
  for (const auto& scope : budget_scopes(row)) {
    st = add_budget(scope, delta);
    if (!st.ok()) return st.error();
  }
  std::optional<Receipt> stored;
  if (receipt) stored = receipt->receipt;
  return Settlement{id, row.state, cost, std::move(stored), /*replayed=*/false};
}

Result<Settlement> Book::settle_tab(std::int64_t id, Nanos cost, bool final,
                                    const std::vector<TabReceipt>& receipts) {
  Nanos total = 0;
  for (const auto& r : receipts) total += r.receipt.cost;
  if (total != cost)
    return invalid("the receipts of tab " + std::to_string(id) + " add up to " +
                   format_usd_display(total) + ", not " + format_usd_display(cost));
  auto loaded = load_row(id);
  if (!loaded) return loaded.error();
  if (*loaded) {
    const Row& row = **loaded;
    for (const auto& r : receipts) {
      const Receipt& receipt = r.receipt;
      // A tab held under no run is shared: its receipts name their calls' runs.
      if (receipt.provider != row.provider || (!row.run.empty() && receipt.run != row.run) ||
          receipt.id != tab_receipt_id(id, r.seq))
        return invalid("receipt " + receipt.id + " does not belong to tab " + std::to_string(id));
    }
  }
  auto settled = settle(id, cost, final, std::nullopt);
  if (!settled || settled->replayed) return settled;
  for (const auto& r : receipts) {
    ++writes_;
    const Receipt& receipt = r.receipt;
    // The receipts outlive run(), which resets the statement: SQLite need not copy them.
    insert_tab_receipt_.bind(1, id).bind(2, r.seq).bind_borrowed(3, receipt.run);
    insert_tab_receipt_.bind(4, receipt.cost).bind_blob_borrowed(5, r.packed);
    Status st = insert_tab_receipt_.run();
    if (!st.ok()) return st.error();
  }
  return settled;
}

Result<Reservation> Book::release(std::int64_t id) {
  auto loaded = load_row(id);
  if (!loaded) return loaded.error();
  if (!*loaded) return make_error(ErrorKind::not_found, "no " + res_name(id));
  Row row = std::move(**loaded);
  if (row.state == ReservationState::released) return to_reservation(row, /*replayed=*/true);
  if (row.state != ReservationState::open)
    return invalid(res_name(id) + " is already settled; nothing to release");
  for (const auto& part : row.funding) {
    if (part.held == 0) continue;
    auto seq = append("release", part.account, part.held, id, "{}");
    if (!seq) return seq.error();
  }
  row.state = ReservationState::released;
  // A released reservation's key may reserve again.
  ++writes_;
  free_key_.bind(1, id);
  Status st = free_key_.run();
  if (!st.ok()) return st.error();
  st = update_row(row);
  if (!st.ok()) return st.error();
  for (const auto& scope : budget_scopes(row)) {
    st = add_budget(scope, -row.hold);
    if (!st.ok()) return st.error();
  }
  return to_reservation(row, /*replayed=*/false);
}

Result<Settlement> Book::reconcile(std::int64_t id, Nanos cost,
                                   const std::optional<SignedReceipt>& receipt) {
  if (cost < 0) return invalid("cost must not be negative");
  auto loaded = load_row(id);
  if (!loaded) return loaded.error();
  if (!*loaded) return make_error(ErrorKind::not_found, "no " + res_name(id));
  Row row = std::move(**loaded);
  if (row.state == ReservationState::settled) {
    if (row.cost != cost)
      return invalid(res_name(id) + " is already final at " + format_usd_display(row.cost));
    auto stored = load_receipt(id);
    if (!stored) return stored.error();
    return Settlement{id, row.state, row.cost, std::move(*stored), /*replayed=*/true};
  }
  if (row.state != ReservationState::unreconciled)
    return invalid(res_name(id) + " is " + std::string(to_string(row.state)) +
                   ", not awaiting reconciliation");

  Funding next = allocate_charge(row.funding, cost);
  for (std::size_t i = 0; i < next.size(); ++i) {
    Nanos before = i < row.funding.size() ? row.funding[i].charged : 0;
    Nanos more = next[i].charged - before;
    if (more == 0) continue;
    auto seq = append("reconcile", next[i].account, -more, id, "{}");
    if (!seq) return seq.error();
  }
  auto seq = append("reconcile", "spent", cost - row.cost, id,
                    RefsBuilder().add("was", row.cost).add("now", cost).str());
  if (!seq) return seq.error();
  Nanos delta = cost - row.cost;
  row.state = ReservationState::settled;
  row.cost = cost;
  row.funding = std::move(next);
  Status st = update_row(row, receipt ? &*receipt : nullptr);
  if (!st.ok()) return st.error();
  for (const auto& scope : budget_scopes(row)) {
    st = add_budget(scope, delta);
    if (!st.ok()) return st.error();
  }
  auto stored = load_receipt(id);
  if (!stored) return stored.error();
  return Settlement{id, row.state, cost, std::move(*stored), /*replayed=*/false};
}

Result<std::int64_t> Book::recover_owner(const std::string& owner) {
  std::vector<std::int64_t> ids;
  {
    sql::ResetGuard guard(open_of_owner_);
    open_of_owner_.bind(1, owner);
    for (;;) {
      auto row = open_of_owner_.step();
      if (!row) return row.error();
      if (!*row) break;
      ids.push_back(open_of_owner_.column_int(0));
    }
  }
  std::int64_t recovered = 0;
  for (std::int64_t id : ids) {
    auto loaded = load_row(id);
    if (!loaded) return loaded.error();
    if (!*loaded || (*loaded)->state != ReservationState::open) continue;
    Row row = std::move(**loaded);
    // Charge the whole hold: the call may have been served, and a hold is within every
    // budget by construction. reconcile() corrects it when the real cost is known.
    row.funding = allocate_charge(row.funding, row.hold);
    auto seq = append("recover", "spent", row.hold, id,
                      RefsBuilder().add("owner", owner).add("reason", "owner process died").str());
    if (!seq) return seq.error();
    row.state = ReservationState::unreconciled;
    row.cost = row.hold;
    Status st = update_row(row);
    if (!st.ok()) return st.error();
    ++recovered;
  }
  return recovered;
}

}  // namespace perdiem::wallet
