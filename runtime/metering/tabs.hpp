// Metering tabs: charging many calls against one durable reservation, in memory.
//
// A tab is a wallet reservation (ReserveRequest::at_least) held for the calls of one
// (run, agent, provider), or, for runs without a budget of their own (no run_limit), of
// one (agent, provider) shared by all those runs. It is admitted by the wallet within
// every budget and funded like any hold, so whatever is charged inside it is too. Each
// call then reserves its worst case and settles its cost inside the tab under a mutex,
// with no disk and no other thread: consumed + the worst cases of calls in flight never
// exceed the tab's hold. A call that does not fit opens a new tab, or meets the wallet's
// own refusal (needed / available).
//
// A tab is closed durably, at the sum of its calls' costs with the rest released and one
// receipt per call signed as one batch (Wallet::settle_tab_async), when its run ends
// (close_run), when it is full (max_calls), when it is old (max_age) and a call arrives,
// and when the Tabs are destroyed. A shared tab closes when any of its runs ends: each
// receipt names its call's run, so after close_run(run) wallet.spent(run) is exact either
// way; runs that end together close it once (detach_run, then await_run). A tab that
// closes with calls in flight hands them over to its successor, reserved with room for
// them, and closes at once: no run waits for another's calls (only when the wallet
// refuses the successor does the tab wait for them).
//
// A process that dies with a tab open leaves its reservation open: the next open of the
// wallet settles it at its hold, unreconciled, never below what was spent, and the calls'
// receipts are lost with the process.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "perdiem/error.hpp"
#include "runtime/providers/provider.hpp"
#include "wallet/wallet.hpp"

namespace perdiem::metering {

struct TabOptions {
  // A new tab holds this many of the worst case of the call that opens it (capped by the
  // budgets and the funds, never below that one call's worst case).
  int holds = 16;
  int max_calls = 1000;                     // a full tab closes
  std::chrono::milliseconds max_age{2000};  // an older tab closes at its next call
  // Runs without a run_limit share their agent's tab at each provider. Ten thousand such
  // runs then cost a few durable reservations, not ten thousand (docs/design-notes.md).
  bool share = true;
};

// A call's idempotency key within its run: the step and the attempt (the wallet's key
// without tabs is "run:step:attempt"). Kept as numbers, not text: a run checks one per
// call, and a long run holds hundreds of thousands.
struct CallKey {
  std::int64_t step = 0;
  int attempt = 1;  // as CallContext::attempt
  friend bool operator==(const CallKey&, const CallKey&) = default;
};

// "run:step:attempt": the key as the wallet stores it for a call outside a tab, and as
// a refusal names it.
std::string call_key_text(const std::string& run, const CallKey& key);

// Consecutive steps land in neighbouring buckets (libstdc++ hashes integers to
// themselves); an attempt past 63 only shares a bucket with the next step's.
struct CallKeyHash {
  std::size_t operator()(const CallKey& key) const noexcept {
    return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(key.step) * 64 +
                                      static_cast<std::uint64_t>(key.attempt));
  }
};

// What a small call's receipt commits to, hashed by the closer rather than the caller
// (call_hashes.hpp): the caller then pays for a copy, not for keccak.
struct Unhashed {
  std::optional<providers::ChatRequest> request;
  std::optional<providers::ChatResponse> response;
};

class Tabs {
 public:
  struct Tab;
  // A call's place in a tab, between admit() and charge()/release().
  struct Seat {
    std::shared_ptr<Tab> tab;
    std::int64_t tab_id = 0;
    std::int64_t seq = 0;
    wallet::Nanos hold = 0;      // the call's worst case, counted in flight
    std::optional<CallKey> key;  // the call's idempotency key in its run (none outside one)
    std::string run;             // the call's run (a shared tab holds many)
  };

  // Starts the closer thread, which signs and queues the settlement of tabs no call can
  // enter any more, so that a call that fills a tab does not pay for closing it.
  Tabs(wallet::Wallet& wallet, TabOptions options);
  // Closes every tab (best effort) and waits until that is durable. No call may be in
  // flight (between admit() and charge()/release()): its tab would wait for it.
  ~Tabs();
  Tabs(const Tabs&) = delete;
  Tabs& operator=(const Tabs&) = delete;

  // Admits a call that may cost up to `hold` under `budgets` (budgets.run names the run)
  // at `provider`, opening a tab when needed. `key` is the call's idempotency key in
  // budgets.run: one already charged in this process is refused (invalid_argument), as
  // the wallet refuses a replayed attempt. Errors otherwise are the wallet's refusals.
  Result<Seat> admit(const std::string& provider, wallet::Nanos hold,
                     const wallet::Budgets& budgets, std::optional<CallKey> key);
  // The call cost `cost` (final, or an estimate when it failed and may have been billed):
  // recorded in the tab, its receipt signed when the tab closes. Returns the receipt id.
  // `unhashed`: the request and answer whose hashes `record` still lacks.
  std::string charge(Seat& seat, wallet::Nanos cost, bool final, wallet::CallRecord record,
                     Unhashed unhashed = {});
  // The call failed without being billed: its worst case is no longer held, its key may
  // be used again.
  void release(Seat& seat);

  // Closes the run's tabs (those with calls in flight close when the last one finishes)
  // and waits until every tab of the run closed so far is durable. An error names a tab
  // that did not commit; its reservation then stays open and is settled at its hold when
  // the wallet is next opened. After it, wallet.spent(run) is exact.
  // The run has ended: its idempotency keys are forgotten too.
  [[nodiscard]] Status close_run(const std::string& run) {
    detach_run(run, true);
    return await_run(run);
  }
  // The same while the run goes on (to read what it spent, or before its budgets
  // change): its next call opens a new tab, and a replayed attempt is still refused. It
  // does not wait for a tab that still waits for calls in flight (the caller may be the
  // thread they finish on): the run's calls there count once that tab closes.
  [[nodiscard]] Status flush_run(const std::string& run) {
    detach_run(run, false);
    return await_run(run, /*skip_waiting=*/true);
  }
  // close_run() in two halves, so many runs that end together detach their tabs first
  // and wait after: detach_run() queues the run's idle tabs without waking the closer;
  // await_run() wakes it and waits. The closer then takes every tab detached meanwhile
  // at once, signs them as one batch, and the wallet commits them together.
  void detach_run(const std::string& run, bool run_ended);
  [[nodiscard]] Status await_run(const std::string& run, bool skip_waiting = false);

 private:
  struct Slot;
  using Settling = std::shared_future<Result<wallet::Settlement>>;
  // Detaches the slot's tab and counts it as closing for each of its runs; hands it to
  // the closer if no call is in flight (else the last call to finish does). Returns the
  // tab. Slot lock held.
  std::shared_ptr<Tab> detach(Slot& slot, bool wake = true);
  // Queues a tab no call can enter any more for the closer, waking it unless `wake` is
  // false (a batch of detaches, woken by the await that follows).
  void queue_close(const std::shared_ptr<Tab>& tab, bool wake = true);
  // Settles (or, charged nothing, releases) such a tab: signs its receipts and queues the
  // settlement in the wallet, on the calling thread. Closing twice does nothing.
  void close_now(const std::shared_ptr<Tab>& tab);
  // close_now() for many tabs, their receipts signed as one batch.
  void close_together(const std::vector<std::shared_ptr<Tab>>& tabs);
  void closer_loop();
  // The slot for `key`, made for `run` (or shared by runs) if new. mu_ held.
  std::shared_ptr<Slot> slot_for(const std::string& key, const std::string& run, bool shared);
  // Opens a tab at `provider` for a call of worst case `hold` and `carried` worth of calls
  // in flight handed over from the old tab, sized for `concurrent` calls at once. Slot
  // lock held.
  Result<wallet::Reservation> open_tab(const std::string& provider, wallet::Nanos hold,
                                       const wallet::Budgets& budgets, int concurrent,
                                       wallet::Nanos carried = 0);
  // Makes `next` the slot's tab, and hands it the old tab's calls in flight: the old one
  // closes at once (its finished calls settled) instead of waiting for them. Slot lock
  // held; `next` must have room for those calls.
  bool hand_over(Slot& slot, const std::shared_ptr<Tab>& next);
  // hand_over() to a new tab reserved for the current one's calls in flight. False when
  // none are in flight or the wallet refuses the reservation. Slot lock held.
  bool roll_over(Slot& slot);
  // Counts a tab that stopped taking calls as closing, for each of its runs, and as
  // waiting if calls in flight keep it open. Its lock held (order: Slot::mu, Tab::mu,
  // mu_).
  void count_closing(Tab& tab, bool waiting);
  // Locks the tab where the seat's call is accounted: its own, or, if that one was
  // closed with the call in flight, the successor it was handed to (where the call takes
  // a new place).
  std::unique_lock<std::mutex> lock_seat(Seat& seat);
  // A call of `run` in `tab` finished (charged or released). Tab lock held.
  static void finished(Tab& tab, const std::string& run);
  void push_settlements(std::vector<std::future<Result<wallet::Settlement>>>& settled,
                        const std::vector<const Tab*>& settled_tabs);

  wallet::Wallet& wallet_;
  TabOptions options_;
  std::mutex mu_;  // guards the maps below, never held across wallet calls
  std::unordered_map<std::string, std::shared_ptr<Slot>> slots_;
  std::unordered_map<std::string, std::vector<std::string>> keys_by_run_;  // slots_' keys
  // The shared slots each run has charged calls to (keys of slots_, not owned by the run).
  std::unordered_map<std::string, std::unordered_set<std::string>> shared_keys_by_run_;
  // The keys of the calls charged in each run, by run.
  std::unordered_map<std::string, std::unordered_set<CallKey, CallKeyHash>> charged_keys_;
  std::unordered_map<std::string, std::vector<Settling>> settling_;  // by run
  // How many tabs holding calls of each run stopped taking calls but still wait for
  // calls in flight (part of closing_).
  std::unordered_map<std::string, int> waiting_;
  // The closer's queue, and how many detached tabs holding calls of each run are not
  // closed yet.
  std::vector<std::shared_ptr<Tab>> to_close_;
  std::unordered_map<std::string, int> closing_;
  std::condition_variable work_, closed_;
  bool stopping_ = false;
  std::thread closer_;  // last: started once the rest exists
};

}  // namespace perdiem::metering
