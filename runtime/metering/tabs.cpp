#include "runtime/metering/tabs.hpp"

#include <pthread.h>

#include <algorithm>

#include "runtime/metering/call_hashes.hpp"

namespace perdiem::metering {

struct Tabs::Tab {
  std::mutex mu;
  wallet::Reservation reservation;
  std::chrono::steady_clock::time_point opened;
  wallet::Nanos consumed = 0;   // charged to finished calls
  wallet::Nanos in_flight = 0;  // worst cases of admitted calls not yet finished
  int open_calls = 0;
  std::int64_t next_seq = 0;
  std::vector<wallet::TabCall> calls;
  std::vector<Unhashed> unhashed;  // beside calls, same order
  bool accepting = true;  // false once detached: the last call to finish closes it
  bool closed = false;
};

struct Tabs::Slot {
  std::mutex mu;  // held while a call is admitted, across the wallet when a tab opens
  std::string run;
  std::shared_ptr<Tab> tab;
};

Tabs::Tabs(wallet::Wallet& wallet, TabOptions options) : wallet_(wallet), options_(options) {
  options_.holds = std::max(1, options_.holds);
  options_.max_calls = std::max(1, options_.max_calls);
  closer_ = std::thread([this] { closer_loop(); });
}

Tabs::~Tabs() {
  std::vector<std::string> runs;
  {
    std::lock_guard<std::mutex> guard(mu_);
    for (const auto& [key, slot] : slots_) runs.push_back(slot->run);
  }
  // Every run's tabs detached first, so the closer signs them together.
  for (const auto& run : runs) detach_run(run, true);
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
    close_together(tabs);
    lock.lock();
    for (const auto& tab : tabs) --closing_[tab->reservation.run];
    closed_.notify_all();
  }
}

std::shared_ptr<Tabs::Slot> Tabs::slot_for(const std::string& key, const std::string& run) {
  std::lock_guard<std::mutex> guard(mu_);
  auto& slot = slots_[key];
  if (!slot) {
    slot = std::make_shared<Slot>();
    slot->run = run;
    keys_by_run_[run].push_back(key);
  }
  return slot;
}

Result<Tabs::Seat> Tabs::admit(const std::string& provider, wallet::Nanos hold,
                               const wallet::Budgets& budgets, const std::string& key) {
  if (budgets.per_call_limit && hold > *budgets.per_call_limit)
    return make_error(ErrorKind::budget_exceeded,
                      "this call may cost up to " + wallet::format_usd_display(hold) +
                          ", more than the per-call limit of " +
                          wallet::format_usd_display(*budgets.per_call_limit),
                      provider);
  if (!key.empty()) {
    std::lock_guard<std::mutex> guard(mu_);
    if (!charged_keys_[budgets.run].insert(key).second)
      // This exact attempt was already made; sending it again would be a second call.
      return make_error(ErrorKind::invalid_argument, "this call (" + key + ") was already made",
                        provider);
  }
  auto unkey = [&] {
    if (key.empty()) return;
    std::lock_guard<std::mutex> guard(mu_);
    charged_keys_[budgets.run].erase(key);
  };

  std::shared_ptr<Slot> slot = slot_for(budgets.run + '\n' + budgets.agent + '\n' + provider,
                                        budgets.run);
  std::lock_guard<std::mutex> slot_guard(slot->mu);
  if (slot->tab) {
    Tab& tab = *slot->tab;
    std::unique_lock<std::mutex> tab_guard(tab.mu);
    const bool fits = tab.consumed + tab.in_flight + hold <= tab.reservation.hold;
    const bool fresh = tab.next_seq < options_.max_calls &&
                       std::chrono::steady_clock::now() - tab.opened < options_.max_age;
    if (fits && fresh) {
      tab.in_flight += hold;
      ++tab.open_calls;
      return Seat{slot->tab, tab.reservation.id, tab.next_seq++, hold, key};
    }
    tab_guard.unlock();
  }

  // A new tab. Opened before the old one is closed, so this call waits for its own
  // reserve only; near a budget or the end of the funds, where the old tab's unused hold
  // matters, the old tab is closed first and the reserve tried again: exact as without
  // tabs, except while calls in flight keep the old tab open (then the refusal stands).
  std::shared_ptr<Tab> old = slot->tab;
  Result<wallet::Reservation> reservation = open_tab(provider, hold, budgets);
  if (old) {
    detach(*slot);
    if (!reservation && (reservation.error().kind == ErrorKind::budget_exceeded ||
                         reservation.error().kind == ErrorKind::insufficient_credits)) {
      close_now(old);  // no-op if calls are in flight or the closer has it
      {
        // Whatever the closer took of this run is queued in the wallet before the retry.
        std::unique_lock<std::mutex> lock(mu_);
        closed_.wait(lock, [&] {
          auto it = closing_.find(budgets.run);
          return it == closing_.end() || it->second == 0;
        });
      }
      reservation = open_tab(provider, hold, budgets);
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
  tab->next_seq = 1;
  slot->tab = tab;
  const std::int64_t id = tab->reservation.id;
  return Seat{std::move(tab), id, 0, hold, key};
}

Result<wallet::Reservation> Tabs::open_tab(const std::string& provider, wallet::Nanos hold,
                                           const wallet::Budgets& budgets) {
  // As many worst cases as the budgets and funds allow, at least this call's.
  wallet::ReserveRequest request;
  request.provider = provider;
  request.worst_case = hold > 0 ? hold * options_.holds : 0;
  request.at_least = hold;
  request.budgets = budgets;
  return wallet_.reserve(request);
}

std::string Tabs::charge(Seat& seat, wallet::Nanos cost, bool final, wallet::CallRecord record,
                         Unhashed unhashed) {
  const std::int64_t now = wallet_.now_ms();
  bool close = false;
  {
    std::lock_guard<std::mutex> guard(seat.tab->mu);
    Tab& tab = *seat.tab;
    tab.in_flight -= seat.hold;
    tab.consumed += cost;
    --tab.open_calls;
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
    std::lock_guard<std::mutex> guard(seat.tab->mu);
    seat.tab->in_flight -= seat.hold;
    --seat.tab->open_calls;
    close = !seat.tab->accepting && seat.tab->open_calls == 0;
  }
  if (!seat.key.empty()) {
    std::lock_guard<std::mutex> guard(mu_);
    charged_keys_[seat.tab->reservation.run].erase(seat.key);
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
  }
  if (idle) queue_close(tab, wake);
  return tab;
}

void Tabs::queue_close(const std::shared_ptr<Tab>& tab, bool wake) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    to_close_.push_back(tab);
    ++closing_[tab->reservation.run];
  }
  if (wake) work_.notify_one();
}

void Tabs::close_now(const std::shared_ptr<Tab>& tab) { close_together({tab}); }

void Tabs::close_together(const std::vector<std::shared_ptr<Tab>>& tabs) {
  std::vector<wallet::TabToSettle> settle;
  std::vector<const std::string*> runs;  // beside `settle`
  for (const auto& tab : tabs) {
    std::vector<wallet::TabCall> calls;
    std::vector<Unhashed> unhashed;
    {
      std::lock_guard<std::mutex> guard(tab->mu);
      if (tab->closed || tab->accepting || tab->open_calls > 0) continue;
      tab->closed = true;
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
    runs.push_back(&tab->reservation.run);
  }
  if (settle.empty()) return;
  // One signature for every tab closed together (many runs that end at once).
  std::vector<std::future<Result<wallet::Settlement>>> settled =
      wallet_.settle_tabs_async(std::move(settle));
  std::lock_guard<std::mutex> guard(mu_);
  for (std::size_t i = 0; i < settled.size(); ++i) {
    auto& pending = settling_[*runs[i]];
    // A long run keeps only the settlements it has not seen commit.
    std::erase_if(pending, [](const Settling& s) {
      return s.wait_for(std::chrono::seconds(0)) == std::future_status::ready && s.get().ok();
    });
    pending.push_back(settled[i].share());
  }
}

void Tabs::detach_run(const std::string& run, bool run_ended) {
  std::vector<std::shared_ptr<Slot>> slots;
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
    if (run_ended) charged_keys_.erase(run);
  }
  for (const auto& slot : slots) {
    std::lock_guard<std::mutex> guard(slot->mu);
    detach(*slot, /*wake=*/false);
  }
}

Status Tabs::await_run(const std::string& run) {
  work_.notify_one();  // the closer takes what detach_run() queued, with whatever else is
  std::vector<Settling> pending;
  {
    std::unique_lock<std::mutex> lock(mu_);
    // The closer is done with the run's tabs once none is queued or being closed.
    closed_.wait(lock, [&] {
      auto it = closing_.find(run);
      return it == closing_.end() || it->second == 0;
    });
    closing_.erase(run);
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
                              "is next opened): " + settled.error().message);
  }
  return status;
}

}  // namespace perdiem::metering
