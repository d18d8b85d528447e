// Provider health: what the router has seen each provider do lately. Per provider, moving
// averages (EWMA) of time to first token and of total time, the success rate over the
// last few outcomes, and a circuit breaker:
//
//   closed --N consecutive failures--> open --cooldown passes--> half-open
//   half-open: exactly one probe is let through; success -> closed, failure -> open again
//
// Times are passed in by the caller (from an injected Clock) so tests can move them; the
// breaker uses wall-clock milliseconds because it is persisted across runs, and
// latencies are durations in microseconds. Thread-safe: every member may be called
// concurrently (one book is shared by every call of a process).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "perdiem/error.hpp"

namespace perdiem::router {

struct HealthOptions {
  int ewma_alpha_percent = 20;        // weight of the newest latency sample, 1..100
  std::size_t window = 20;            // outcomes kept for the success rate
  int failure_threshold = 5;          // consecutive failures that open the breaker
  std::int64_t cooldown_ms = 30'000;  // open -> half-open after this long
};

enum class Breaker { closed, open, half_open };
std::string_view to_string(Breaker breaker);

// One attempt's timing. A non-streamed call has no separate first token: leave it empty.
struct Latency {
  std::optional<std::int64_t> ttft_us;
  std::int64_t total_us = 0;
};

// A snapshot of one provider, as of some `now`.
struct ProviderStats {
  std::optional<std::int64_t> ttft_us;   // EWMA; empty until a sample arrives
  std::optional<std::int64_t> total_us;  // EWMA; empty until a sample arrives
  // Successes over the window with one success and one failure added (Laplace), in
  // thousandths: 500 for a provider never tried, and more evidence moves it further.
  int success_permille = 500;
  std::size_t samples = 0;    // outcomes in the window
  std::size_t successes = 0;  // of them, successes (the raw count, for explanations)
  int consecutive_failures = 0;
  Breaker breaker = Breaker::closed;
  bool probe_in_flight = false;
  std::int64_t half_open_at_ms = 0;  // when open: when the cooldown ends
};

enum class Admission {
  allowed,  // closed: send
  probe,    // half-open: this caller carries the one probe; report its outcome
  refused,  // open, or half-open with the probe already out
};

class HealthBook {
 public:
  explicit HealthBook(HealthOptions options = {});
  HealthBook(const HealthBook&) = delete;
  HealthBook& operator=(const HealthBook&) = delete;

  const HealthOptions& options() const { return options_; }

  // Unknown providers read as never tried (closed, no latency, 500 permille).
  ProviderStats stats(std::string_view provider, std::int64_t now_ms) const;

  // Whether an attempt may be sent to `provider` now. In half-open the first caller gets
  // Admission::probe and takes the probe slot until it records an outcome.
  Admission admit(std::string_view provider, std::int64_t now_ms);

  // A success closes the breaker, whenever it happens.
  void record_success(std::string_view provider, const Latency& latency);
  void record_failure(std::string_view provider, std::int64_t now_ms);
  // Ends an admitted attempt whose outcome says nothing about the provider (a request it
  // rightly rejected, a wallet refusal): frees the probe slot, changes nothing else.
  void record_neutral(std::string_view provider);

  // {"version": 1, "providers": {"venice": {"ttft_us": 180000, "total_us": 900000,
  //  "recent": "1101", "consecutive_failures": 0, "open": false, "opened_at_ms": 0}}}
  // "recent" lists outcomes oldest first (1 = success). A probe in flight is not saved:
  // after a reload the breaker is open or half-open again and the next call probes.
  nlohmann::json to_json() const;
  // Replaces the book with `doc`. invalid_argument naming the bad field, and the book
  // unchanged, when `doc` is not what to_json() writes. A longer "recent" than the
  // window keeps its newest outcomes.
  Status load_json(const nlohmann::json& doc);

 private:
  struct State {
    std::optional<std::int64_t> ttft_us;
    std::optional<std::int64_t> total_us;
    std::deque<bool> recent;
    int consecutive_failures = 0;
    bool open = false;
    std::int64_t opened_at_ms = 0;
    bool probe_in_flight = false;
  };

  void push_outcome(State& state, bool success) const;
  ProviderStats snapshot(const State& state, std::int64_t now_ms) const;

  HealthOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, State, std::less<>> providers_;  // guarded by mu_
};

}  // namespace perdiem::router
