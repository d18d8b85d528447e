#include "runtime/metering/tabs.hpp"

#include <pthread.h>

#include <algorithm>

#include "runtime/metering/call_hashes.hpp"

namespace perdiem::metering {

std::string call_key_text(const std::string& run, const CallKey& key) {
  return run + ":" + std::to_string(key.step) + ":" + std::to_string(key.attempt);
}

struct Tabs::Tab {
  std::mutex mu;
  wallet::Reservation reservation;
  std::chrono::steady_clock::time_point opened;
  wallet::Nanos consumed = 0;   // charged to finished calls
  wallet::Nanos in_flight = 0;  // worst cases of admitted calls not yet finished
  int open_calls = 0;
  std::unordered_map<std::string, int> open_calls_by_run;  // the same, by run
  std::int64_t next_seq = 0;
  std::vector<wallet::TabCall> calls;
  std::vector<Unhashed> unhashed;        // beside calls, same order
  std::unordered_set<std::string> runs;  // of the calls admitted (many when shared)
  std::string last_run;                  // the run of the last call admitted
  std::string shared_key;                // its slot's key, when shared by runs
  wallet::Budgets held_under;            // what its reservation was admitted under
  // Set once, when the tab closed with calls in flight: they finish in this tab.
  std::shared_ptr<Tab> successor;
  bool accepting = true;  // false once detached: the last call to finish closes it
  bool closed = false;
  bool done = false;     // closed, and its settlement queued in the wallet (under Tabs::mu_)
  bool waiting = false;  // counted in waiting_ (under Tabs::mu_)
};

struct Tabs::Slot {
  std::mutex mu;    // held while a call is admitted, across the wallet when a tab opens
  std::string run;  // "" for a slot shared by runs
  std::shared_ptr<Tab> tab;
};

Tabs::Tabs(wallet::Wallet& wallet, TabOptions options) : wallet_(wallet), options_(options) {
  options_.holds = std::max(1, options_.holds);
  options_.max_calls = std::max(1, options_.max_calls);
  closer_ = std::thread([this] { closer_loop(); });
}

Tabs::~Tabs() {
  std::vector<std::shared_ptr<Slot>> slots;
  {
    std::lock_guard<std::mutex> guard(mu_);
    for (auto& [key, slot] : slots_) slots.push_back(std::move(slot));
    slots_.clear();
    keys_by_run_.clear();
    shared_keys_by_run_.clear();
  }
  // Every tab detached first, so the closer signs them together.
  for (const auto& slot : slots) {
    std::lock_guard<std::mutex> guard(slot->mu);
    detach(*slot, /*wake=*/false);
  }
  std::vector<std::string> runs;
  {
    std::lock_guard<std::mutex> guard(mu_);
    for (const auto& [run, count] : closing_) runs.push_back(run);
  }
  for (const auto& run : runs) (void)await_run(run);
  {
    std::lock_guard<std::mutex> guard(mu_);
    stopping_ = true;
  }
  work_.notify_all();
  closer_.join();
  (void)wallet_.sync();
}

void Tabs::closer_loop() {
  ::pthread_setname_np(::pthread_self(), "perdiem-tabs");  // for top, perf and gdb
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    work_.wait(lock, [this] { return stopping_ || !to_close_.empty(); });
    if (to_close_.empty()) return;  // stopping, and nothing left to close
    std::vector<std::shared_ptr<Tab>> tabs = std::move(to_close_);
    to_close_.clear();
    lock.unlock();
    close_together(tabs);  // counts them closed, and wakes who waits for them
    lock.lock();
  }
}

std::shared_ptr<Tabs::Slot> Tabs::slot_for(const std::string& key, const std::string& run,
                                           bool shared) {
  auto& slot = slots_[key];
  if (!slot) {
    slot = std::make_shared<Slot>();
    if (!shared) {
      slot->run = run;
      keys_by_run_[run].push_back(key);
    }
  }
  return slot;
}

Result<Tabs::Seat> Tabs::admit(const std::string& provider, wallet::Nanos hold,
                               const wallet::Budgets& budgets, std::optional<CallKey> key) {
  if (budgets.per_call_limit && hold > *budgets.per_call_limit)
    return make_refusal(ErrorKind::budget_exceeded,
                        "this call may cost up to " + wallet::format_usd_display(hold) +
                            ", more than the per-call limit of " +
                            wallet::format_usd_display(*budgets.per_call_limit),
                        hold, *budgets.per_call_limit, provider);
  // A run with a budget of its own keeps its own tabs: its limit is checked against its
  // hold alone. The others share their agent's, held under the agent's budgets only.
  const bool shared = options_.share && !budgets.run_limit && !budgets.run.empty();
  // A shared slot's key starts with a byte no run id has, so it never meets a run's own
  // (nor that of calls outside any run).
  const std::string slot_key =
      (shared ? std::string(1, '\x01') : budgets.run) + '\n' + budgets.agent + '\n' + provider;
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (key && !charged_keys_[budgets.run].insert(*key).second)
      // This exact attempt was already made; sending it again would be a second call.
      return make_error(ErrorKind::invalid_argument,
                        "this call (" + call_key_text(budgets.run, *key) + ") was already made",
                        provider);
    slot = slot_for(slot_key, budgets.run, shared);
  }
  auto unkey = [&] {
    if (!key) return;
    std::lock_guard<std::mutex> guard(mu_);
    if (auto keys = charged_keys_.find(budgets.run); keys != charged_keys_.end())
      keys->second.erase(*key);
  };
  // The first call of a run in a shared tab lets the run's end find the tab.
  auto joined = [&] {
    if (!shared) return;
    std::lock_guard<std::mutex> guard(mu_);
    shared_keys_by_run_[budgets.run].insert(slot_key);
  };
  wallet::Budgets held_under = budgets;
  if (shared) held_under.run.clear();
  std::lock_guard<std::mutex> slot_guard(slot->mu);
  int concurrent = 1;
  if (slot->tab) {
    Tab& tab = *slot->tab;
    std::unique_lock<std::mutex> tab_guard(tab.mu);
    const bool fits = tab.consumed + tab.in_flight + hold <= tab.reservation.hold;
    const bool fresh = tab.next_seq < options_.max_calls &&
                       std::chrono::steady_clock::now() - tab.opened < options_.max_age;
    if (fits && fresh) {
      tab.in_flight += hold;
      ++tab.open_calls;
      ++tab.open_calls_by_run[budgets.run];
      // A run's calls usually come one after another: compare before hashing.
      const bool new_run = tab.last_run != budgets.run && tab.runs.insert(budgets.run).second;
      if (new_run) tab.last_run = budgets.run;
      Seat seat{slot->tab, tab.reservation.id, tab.next_seq++, hold, key, budgets.run};
      tab_guard.unlock();
      if (new_run) joined();
      return seat;
    }
    concurrent += tab.open_calls;  // what the old tab held at once, the new one should too
    tab_guard.unlock();
  }

  // A new tab. Opened before the old one is closed, so this call waits for its own
  // reserve only; near a budget or the end of the funds, where the old tab's unused hold
  // matters, the old tab is closed first and the reserve tried again: exact as without
  // tabs, except while calls in flight keep the old tab open (then the refusal stands).
  std::shared_ptr<Tab> old = slot->tab;
  wallet::Nanos carried = 0;  // the old tab's calls in flight, handed over to the new one
  if (old) {
    std::lock_guard<std::mutex> guard(old->mu);
    carried = old->in_flight;
  }
  Result<wallet::Reservation> reservation =
      open_tab(provider, hold, held_under, concurrent, carried);
  if (!reservation && carried > 0)
    reservation = open_tab(provider, hold, held_under, concurrent);  // the old tab waits
  else if (reservation && old)
    carried = -1;  // hand over below
  if (old && carried >= 0) {
    detach(*slot);
    if (!reservation && (reservation.error().kind == ErrorKind::budget_exceeded ||
                         reservation.error().kind == ErrorKind::insufficient_credits)) {
      close_now(old);  // no-op if calls are in flight or the closer has it
      bool in_flight = false;
      {
        std::lock_guard<std::mutex> guard(old->mu);
        in_flight = old->open_calls > 0;
      }
      if (!in_flight) {
        // If the closer took it, its settlement is queued in the wallet before the retry.
        std::unique_lock<std::mutex> lock(mu_);
        closed_.wait(lock, [&] { return old->done; });
      }
      reservation = open_tab(provider, hold, held_under, concurrent);
    }
  }
  if (!reservation) {
    unkey();
    return reservation.error();
  }
  auto tab = std::make_shared<Tab>();
  tab->reservation = std::move(*reservation);
  tab->opened = std::chrono::steady_clock::now();
  tab->in_flight = hold;
  tab->open_calls = 1;
  tab->open_calls_by_run[budgets.run] = 1;
  tab->next_seq = 1;
  tab->runs.insert(budgets.run);
  tab->last_run = budgets.run;
  if (shared) tab->shared_key = slot_key;
  tab->held_under = std::move(held_under);
  if (old && carried < 0) {
    hand_over(*slot, tab);  // the old tab closes now, whatever is in flight
    work_.notify_one();
  } else {
    slot->tab = tab;
  }
  joined();
  const std::int64_t id = tab->reservation.id;
  return Seat{std::move(tab), id, 0, hold, key, budgets.run};
}

Result<wallet::Reservation> Tabs::open_tab(const std::string& provider, wallet::Nanos hold,
                                           const wallet::Budgets& budgets, int concurrent,
                                           wallet::Nanos carried) {
  // As many worst cases as the budgets and funds allow, at least this call's and those
  // carried over: `holds`, or twice the calls the last tab held at once (a shared tab
  // serves many runs), capped at sixteen times `holds` so that one shared tab does not
  // hold the funds other runs need.
  const wallet::Nanos per_call = hold > 0 ? hold : (concurrent > 0 ? carried / concurrent : 0);
  const int holds = std::min(std::max(options_.holds, 2 * concurrent), 16 * options_.holds);
  wallet::ReserveRequest request;
  request.provider = provider;
  request.at_least = hold + carried;
  request.worst_case = std::max(per_call * holds, request.at_least);
  request.budgets = budgets;
  // Each call was held to the per-call limit when admitted; the calls carried over
  // together are not one call.
  if (carried > 0) request.budgets.per_call_limit.reset();
  return wallet_.reserve(request);
}

std::unique_lock<std::mutex> Tabs::lock_seat(Seat& seat) {
  std::unique_lock<std::mutex> lock(seat.tab->mu);
  if (!seat.tab->successor) return lock;
  // The tab was handed over with this call in flight: the call is accounted in the last
  // successor, which counted it in flight, and takes a place there.
  while (seat.tab->successor) {
    std::shared_ptr<Tab> next = seat.tab->successor;
    lock.unlock();
    seat.tab = std::move(next);
    lock = std::unique_lock<std::mutex>(seat.tab->mu);
  }
  seat.tab_id = seat.tab->reservation.id;
  seat.seq = seat.tab->next_seq++;  // its place in the old tab stays unused
  if (seat.tab->runs.insert(seat.run).second && !seat.tab->accepting) {
    // The run joins a tab that already stopped taking calls, counted closing (and maybe
    // waiting) for the runs it had: count this one too. This call keeps it open.
    std::lock_guard<std::mutex> guard(mu_);
    ++closing_[seat.run];
    if (seat.tab->waiting) ++waiting_[seat.run];
  }
  return lock;
}

void Tabs::finished(Tab& tab, const std::string& run) {
  auto it = tab.open_calls_by_run.find(run);
  if (it != tab.open_calls_by_run.end() && --it->second <= 0) tab.open_calls_by_run.erase(it);
}

std::string Tabs::charge(Seat& seat, wallet::Nanos cost, bool final, wallet::CallRecord record,
                         Unhashed unhashed) {
  const std::int64_t now = wallet_.now_ms();
  bool close = false;
  {
    std::unique_lock<std::mutex> guard = lock_seat(seat);
    Tab& tab = *seat.tab;
    tab.in_flight -= seat.hold;
    tab.consumed += cost;
    --tab.open_calls;
    finished(tab, seat.run);
    record.run = seat.run;
    tab.calls.push_back(wallet::TabCall{seat.seq, cost, final, now, std::move(record)});
    tab.unhashed.push_back(std::move(unhashed));
    close = !tab.accepting && tab.open_calls == 0;
  }
  if (close) queue_close(seat.tab);
  return wallet::tab_receipt_id(seat.tab_id, seat.seq);
}

void Tabs::release(Seat& seat) {
  bool close = false;
  {
    std::unique_lock<std::mutex> guard = lock_seat(seat);
    seat.tab->in_flight -= seat.hold;
    --seat.tab->open_calls;
    finished(*seat.tab, seat.run);
    close = !seat.tab->accepting && seat.tab->open_calls == 0;
  }
  if (seat.key) {
    std::lock_guard<std::mutex> guard(mu_);
    if (auto keys = charged_keys_.find(seat.run); keys != charged_keys_.end())
      keys->second.erase(*seat.key);
  }
  if (close) queue_close(seat.tab);
}

std::shared_ptr<Tabs::Tab> Tabs::detach(Slot& slot, bool wake) {
  std::shared_ptr<Tab> tab = std::move(slot.tab);
  if (!tab) return tab;
  bool idle = false;
  {
    std::lock_guard<std::mutex> guard(tab->mu);
    tab->accepting = false;
    idle = tab->open_calls == 0;
    // Runs whose calls were handed to this tab in flight belong to it from now on: their
    // end must wait for it. (Added here, once, not at every hand-over.)
    for (const auto& [run, calls] : tab->open_calls_by_run) tab->runs.insert(run);
    // Counted under the tab's lock: once it is released, the last call in flight may
    // queue the tab and the closer count it down.
    count_closing(*tab, /*waiting=*/!idle);
  }
  if (idle) queue_close(tab, wake);
  return tab;
}

void Tabs::count_closing(Tab& tab, bool waiting) {
  // Counted when the tab stops taking calls, not when it is queued: a run whose calls are
  // in a tab that a call in flight still keeps open must wait for it too (but a flush
  // does not: waiting_).
  std::lock_guard<std::mutex> guard(mu_);
  for (const std::string& run : tab.runs) {
    ++closing_[run];
    if (waiting) ++waiting_[run];
  }
  tab.waiting = waiting;
}

bool Tabs::hand_over(Slot& slot, const std::shared_ptr<Tab>& next) {
  std::shared_ptr<Tab> old = std::move(slot.tab);
  slot.tab = next;
  if (!old) return true;
  {
    std::scoped_lock guard(old->mu, next->mu);
    // Calls that finished stay in the old tab; those in flight finish in the next one,
    // whose hold was reserved with room for them (they can only have finished since).
    // Their runs join the next tab's when they are charged there (lock_seat); until then
    // open_calls_by_run says where they are. (Thousands of runs may have a call in
    // flight: the bigger map is moved, not copied.)
    next->in_flight += old->in_flight;
    next->open_calls += old->open_calls;
    if (old->open_calls_by_run.size() > next->open_calls_by_run.size())
      std::swap(old->open_calls_by_run, next->open_calls_by_run);
    for (const auto& [run, calls] : old->open_calls_by_run) next->open_calls_by_run[run] += calls;
    old->in_flight = 0;
    old->open_calls = 0;
    old->open_calls_by_run.clear();
    old->successor = next;
    old->accepting = false;
    count_closing(*old, /*waiting=*/false);  // its calls in flight are the next one's
  }
  queue_close(old, /*wake=*/false);
  return true;
}

bool Tabs::roll_over(Slot& slot) {
  const std::shared_ptr<Tab> old = slot.tab;
  wallet::Nanos in_flight = 0;
  int open_calls = 0;
  {
    std::lock_guard<std::mutex> guard(old->mu);
    in_flight = old->in_flight;
    open_calls = old->open_calls;
  }
  if (open_calls == 0) return false;
  Result<wallet::Reservation> reservation =
      open_tab(old->reservation.provider, 0, old->held_under, open_calls, in_flight);
  if (!reservation) return false;
  auto next = std::make_shared<Tab>();
  next->reservation = std::move(*reservation);
  next->opened = std::chrono::steady_clock::now();
  next->shared_key = old->shared_key;
  next->held_under = old->held_under;
  return hand_over(slot, next);
}

void Tabs::queue_close(const std::shared_ptr<Tab>& tab, bool wake) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    to_close_.push_back(tab);
    if (tab->waiting) {  // its last call in flight finished: it no longer waits
      tab->waiting = false;
      for (const std::string& run : tab->runs) {
        auto it = waiting_.find(run);
        if (it != waiting_.end() && --it->second <= 0) waiting_.erase(it);
      }
    }
  }
  if (wake) work_.notify_one();
}

void Tabs::close_now(const std::shared_ptr<Tab>& tab) {
  close_together({tab});
}

void Tabs::close_together(const std::vector<std::shared_ptr<Tab>>& tabs) {
  std::vector<wallet::TabToSettle> settle;
  std::vector<const Tab*> settled_tabs;  // beside `settle`
  std::vector<Tab*> closed_here;
  for (const auto& tab : tabs) {
    std::vector<wallet::TabCall> calls;
    std::vector<Unhashed> unhashed;
    {
      std::lock_guard<std::mutex> guard(tab->mu);
      if (tab->closed || tab->accepting || tab->open_calls > 0) continue;
      tab->closed = true;
      closed_here.push_back(tab.get());
      calls = std::move(tab->calls);
      unhashed = std::move(tab->unhashed);
    }
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (unhashed[i].request) calls[i].record.request_hash = request_hash(*unhashed[i].request);
      if (unhashed[i].response)
        calls[i].record.response_hash = response_hash(*unhashed[i].response);
    }
    if (calls.empty()) {
      // Nothing was charged: give the whole hold back. If this fails, the reservation
      // stays open and the next open of the wallet settles it at its hold.
      (void)wallet_.release(tab->reservation.id);
      continue;
    }
    settle.push_back(wallet::TabToSettle{tab->reservation, std::move(calls)});
    settled_tabs.push_back(tab.get());
  }
  // One signature for every tab closed together (many runs that end at once).
  std::vector<std::future<Result<wallet::Settlement>>> settled;
  if (!settle.empty()) settled = wallet_.settle_tabs_async(std::move(settle));
  {
    std::lock_guard<std::mutex> guard(mu_);
    // Counted here, by whoever closed the tab (the closer or close_now), in the same step
    // that hands its settlement to its runs: a run that sees its count reach zero finds
    // every settlement it must wait for.
    for (Tab* tab : closed_here) {
      tab->done = true;
      for (const std::string& run : tab->runs) {
        auto it = closing_.find(run);
        if (it != closing_.end() && --it->second <= 0) closing_.erase(it);
      }
    }
    push_settlements(settled, settled_tabs);
  }
  closed_.notify_all();
}

void Tabs::push_settlements(std::vector<std::future<Result<wallet::Settlement>>>& settled,
                            const std::vector<const Tab*>& settled_tabs) {
  for (std::size_t i = 0; i < settled.size(); ++i) {
    Settling settling = settled[i].share();
    for (const std::string& run : settled_tabs[i]->runs) {
      auto& pending = settling_[run];
      // A long run keeps only the settlements it has not seen commit.
      std::erase_if(pending, [](const Settling& s) {
        return s.wait_for(std::chrono::seconds(0)) == std::future_status::ready && s.get().ok();
      });
      pending.push_back(settling);
    }
  }
}

void Tabs::detach_run(const std::string& run, bool run_ended) {
  std::vector<std::shared_ptr<Slot>> slots, shared;
  {
    std::lock_guard<std::mutex> guard(mu_);
    // By the run's own keys: closing a run costs its tabs, not every run's.
    if (auto keys = keys_by_run_.find(run); keys != keys_by_run_.end()) {
      for (const std::string& key : keys->second) {
        if (auto found = slots_.find(key); found != slots_.end()) {
          slots.push_back(std::move(found->second));
          slots_.erase(found);
        }
      }
      keys_by_run_.erase(keys);
    }
    if (auto keys = shared_keys_by_run_.find(run); keys != shared_keys_by_run_.end()) {
      for (const std::string& key : keys->second)
        if (auto found = slots_.find(key); found != slots_.end()) shared.push_back(found->second);
      shared_keys_by_run_.erase(keys);
    }
    if (run_ended) charged_keys_.erase(run);
  }
  for (const auto& slot : slots) {
    std::lock_guard<std::mutex> guard(slot->mu);
    detach(*slot, /*wake=*/false);
  }
  // A shared tab closes if it holds calls of this run; the finished calls of other runs
  // in it are settled with them. Their calls in flight would make this run wait for
  // them: they are handed over to a new tab instead (if the funds allow one).
  for (const auto& slot : shared) {
    std::lock_guard<std::mutex> guard(slot->mu);
    if (!slot->tab) continue;
    bool holds_run = false, own_in_flight = false;
    {
      std::lock_guard<std::mutex> tab_guard(slot->tab->mu);
      own_in_flight = slot->tab->open_calls_by_run.count(run) > 0;
      holds_run = own_in_flight || slot->tab->runs.count(run) > 0;
    }
    if (!holds_run) continue;
    // Handed over, a call of this run in flight would land in a tab it does not wait for.
    if (!own_in_flight && roll_over(*slot)) continue;
    bool busy = false;
    {
      std::lock_guard<std::mutex> tab_guard(slot->tab->mu);
      busy = slot->tab->open_calls > 0;
    }
    if (busy && !run_ended) {
      // A run that goes on (reading what it spent, perhaps on the thread those calls
      // finish on) must not wait for calls in flight: its calls there count when the tab
      // closes, and its next close still finds the tab.
      std::lock_guard<std::mutex> map_guard(mu_);
      shared_keys_by_run_[run].insert(slot->tab->shared_key);
      continue;
    }
    // A run that ended waits (off the event loop) for its own calls still in flight, and
    // then, in the same tab, for other runs' (or, near the funds' end, for theirs).
    detach(*slot, /*wake=*/false);
  }
}

Status Tabs::await_run(const std::string& run, bool skip_waiting) {
  work_.notify_one();  // the closer takes what detach_run() queued, with whatever else is
  std::vector<Settling> pending;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // The closer is done with the run's tabs once none is queued or being closed (or,
    // skipping those that wait for calls in flight, none of the others).
    closed_.wait(lock, [&] {
      auto it = closing_.find(run);
      const int closing = it == closing_.end() ? 0 : it->second;
      if (!skip_waiting) return closing == 0;
      auto waiting = waiting_.find(run);
      return closing - (waiting == waiting_.end() ? 0 : waiting->second) == 0;
    });
    auto it = settling_.find(run);
    if (it != settling_.end()) {
      pending = std::move(it->second);
      settling_.erase(it);
    }
  }
  Status status;
  for (const auto& settling : pending) {
    const Result<wallet::Settlement>& settled = settling.get();
    if (!settled && status.ok())
      status = make_error(settled.error().kind,
                          "a metering tab of run " + run +
                              " did not commit (it will be settled at its hold when the wallet "
                              "is next opened): " +
                              settled.error().message);
  }
  return status;
}

}  // namespace perdiem::metering
