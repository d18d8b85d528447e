// Reservations: the values the Wallet's reserve / settle / release API speaks in.
//
// Life of a call: reserve(worst case) -> open; then exactly one of
//   settle(cost)           -> settled       (the rest of the hold is released)
//   settle_estimate(cost)  -> unreconciled  (a broken stream; reconcile() later)
//   release()              -> released      (the call failed; nothing is charged)
// and, if the owning process dies while open, the next open() of the wallet settles it at
// the full hold -> unreconciled (never more than was reserved, so never over a budget).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "perdiem/error.hpp"
#include "wallet/money.hpp"
#include "wallet/prices.hpp"
#include "wallet/receipts.hpp"

namespace perdiem::wallet {

enum class ReservationState { open, settled, unreconciled, released };
std::string_view to_string(ReservationState state);
std::optional<ReservationState> reservation_state_from(std::string_view text);

// Limits the owner sets, all enforced by the same atomic reservation. A missing limit
// means no limit. The run and agent ids also scope wallet.spent() queries.
struct Budgets {
  std::string run;                       // "" = not part of a run
  std::optional<Nanos> run_limit;        // total for the run
  std::string agent;                     // "" = no agent scope
  std::optional<Nanos> agent_day_limit;  // per agent per UTC day
  std::optional<Nanos> per_call_limit;   // maximum worst case of one call
};

struct ReserveRequest {
  // One key per logical call: a retry with the same key gets the same reservation (and,
  // once settled, the same settlement) instead of a second charge. A key whose earlier
  // reservation was released may reserve again. "" = no idempotency.
  std::string idempotency_key;
  std::string provider;  // who will be paid; decides which allowance can pay
  Nanos worst_case = 0;
  Budgets budgets;
  // 0: hold worst_case or refuse. Otherwise (a metering tab, see docs/wallet.md): hold as
  // much of worst_case as every budget and the funds allow, but at least this much;
  // refusals then name at_least as what was needed, and per_call_limit applies to it.
  Nanos at_least = 0;
};

// Where a hold came from, in spending order, and what was finally charged to each part.
struct FundingPart {
  std::string account;  // "allow:<date>:<grant>" or "usd"
  Nanos held = 0;
  Nanos charged = 0;
};
using Funding = std::vector<FundingPart>;

struct Reservation {
  std::int64_t id = 0;
  ReservationState state = ReservationState::open;
  std::string provider;
  std::string run;
  Nanos hold = 0;            // the worst case reserved
  Nanos cost = 0;            // charged so far (0 while open)
  Nanos from_allowance = 0;  // how the hold is funded
  Nanos from_usd = 0;
  bool replayed = false;  // the idempotency key matched an earlier reservation
};

// The id of the receipt that settling `reservation` signs: known before the settlement
// commits, so a pipelined settle can hand it out at once.
inline std::string receipt_id_for(const Reservation& reservation) {
  return std::to_string(reservation.id);
}

// What a receipt records about the call, besides what the reservation knows.
struct CallRecord {
  std::string model;
  std::int64_t step = 0;
  Usage usage;
  Price prices;
  Hash32 request_hash{};
  Hash32 response_hash{};
  // The call's run, for a metering tab shared by runs ("" = the tab's own run).
  std::string run{};
};

// One call charged inside a metering tab (a reservation held for many calls, see
// docs/wallet.md): its receipt is signed with the others when the tab is settled.
struct TabCall {
  std::int64_t seq = 0;  // its place in the tab: the receipt id is "<tab id>.<seq>"
  Nanos cost = 0;
  bool final = true;     // false: an estimate (the call failed after it may have been billed)
  std::int64_t time_ms = 0;
  CallRecord record;
};

// A tab and the calls charged inside it, to settle (Wallet::settle_tabs_async).
struct TabToSettle {
  Reservation tab;
  std::vector<TabCall> calls;
};

inline std::string tab_receipt_id(std::int64_t tab, std::int64_t seq) {
  return std::to_string(tab) + "." + std::to_string(seq);
}

struct Settlement {
  std::int64_t reservation = 0;
  ReservationState state = ReservationState::settled;
  Nanos cost = 0;
  std::optional<Receipt> receipt;  // absent for a crash-recovered reservation
  bool replayed = false;           // this settlement had already been made
};

// "usd=5;allow:2025-01-01:3=7" <-> Funding (held amounts, then charged after '/').
std::string encode_funding(const Funding& funding);
Result<Funding> decode_funding(std::string_view text);
// Charges `cost` against the parts in order, each up to what it held; whatever is left
// over is charged to "usd" (which may go negative: a debt the owner sees).
Funding allocate_charge(Funding funding, Nanos cost);

}  // namespace perdiem::wallet
