#include "runtime/router/health.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace perdiem::router {
namespace {

using json = nlohmann::json;

// Bounds that keep the integer arithmetic below far from overflow, whatever a loaded
// file or a broken clock says: about eleven days of latency, and dates before year 292M.
constexpr std::int64_t kMaxLatencyUs = 1'000'000'000'000;
constexpr std::int64_t kMaxTimeMs = std::int64_t{1} << 60;

std::int64_t ewma(std::optional<std::int64_t> average, std::int64_t sample, int alpha_percent) {
  sample = std::clamp<std::int64_t>(sample, 0, kMaxLatencyUs);
  if (!average) return sample;  // the first sample is the best estimate there is
  return *average + (sample - *average) * alpha_percent / 100;
}

Error bad_field(const std::string& provider, std::string_view field) {
  return make_error(
      ErrorKind::invalid_argument,
      "provider health for '" + provider + "' has a bad \"" + std::string(field) + "\"", "health");
}

// An optional non-negative integer member: absent or null is empty.
bool read_optional_us(const json& entry, const char* key, std::optional<std::int64_t>& out) {
  auto it = entry.find(key);
  if (it == entry.end() || it->is_null()) return true;
  if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
      it->get<std::int64_t>() > kMaxLatencyUs)
    return false;
  out = it->get<std::int64_t>();
  return true;
}

}  // namespace

std::string_view to_string(Breaker breaker) {
  switch (breaker) {
    case Breaker::closed:
      return "closed";
    case Breaker::open:
      return "open";
    case Breaker::half_open:
      return "half-open";
  }
  return "?";
}

HealthBook::HealthBook(HealthOptions options) : options_(options) {
  options_.ewma_alpha_percent = std::clamp(options_.ewma_alpha_percent, 1, 100);
  options_.window = std::max<std::size_t>(options_.window, 1);
  options_.failure_threshold = std::max(options_.failure_threshold, 1);
  options_.cooldown_ms = std::clamp<std::int64_t>(options_.cooldown_ms, 0, kMaxTimeMs);
}

void HealthBook::push_outcome(State& state, bool success) const {
  state.recent.push_back(success);
  while (state.recent.size() > options_.window) state.recent.pop_front();
}

ProviderStats HealthBook::snapshot(const State& state, std::int64_t now_ms) const {
  ProviderStats s;
  s.ttft_us = state.ttft_us;
  s.total_us = state.total_us;
  s.samples = state.recent.size();
  s.successes =
      static_cast<std::size_t>(std::count(state.recent.begin(), state.recent.end(), true));
  s.success_permille = static_cast<int>((static_cast<std::int64_t>(s.successes) + 1) * 1000 /
                                        static_cast<std::int64_t>(s.samples + 2));
  s.consecutive_failures = state.consecutive_failures;
  s.probe_in_flight = state.probe_in_flight;
  if (state.open) {
    s.half_open_at_ms = state.opened_at_ms + options_.cooldown_ms;
    s.breaker = now_ms >= s.half_open_at_ms ? Breaker::half_open : Breaker::open;
  }
  return s;
}

ProviderStats HealthBook::stats(std::string_view provider, std::int64_t now_ms) const {
  std::lock_guard lock(mu_);
  auto it = providers_.find(provider);
  return it == providers_.end() ? ProviderStats{} : snapshot(it->second, now_ms);
}

Admission HealthBook::admit(std::string_view provider, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = providers_.find(provider);
  if (it == providers_.end() || !it->second.open) return Admission::allowed;
  State& state = it->second;
  if (now_ms < state.opened_at_ms + options_.cooldown_ms || state.probe_in_flight)
    return Admission::refused;
  state.probe_in_flight = true;
  return Admission::probe;
}

void HealthBook::record_success(std::string_view provider, const Latency& latency) {
  std::lock_guard lock(mu_);
  State& state = providers_[std::string(provider)];
  if (latency.ttft_us)
    state.ttft_us = ewma(state.ttft_us, *latency.ttft_us, options_.ewma_alpha_percent);
  state.total_us = ewma(state.total_us, latency.total_us, options_.ewma_alpha_percent);
  push_outcome(state, true);
  state.consecutive_failures = 0;
  state.open = false;
  state.probe_in_flight = false;
}

void HealthBook::record_failure(std::string_view provider, std::int64_t now_ms) {
  std::lock_guard lock(mu_);
  State& state = providers_[std::string(provider)];
  now_ms = std::clamp<std::int64_t>(now_ms, 0, kMaxTimeMs);
  push_outcome(state, false);
  ++state.consecutive_failures;
  if (state.probe_in_flight) {
    // The probe failed: wait a whole cooldown again.
    state.probe_in_flight = false;
    state.opened_at_ms = now_ms;
  } else if (!state.open && state.consecutive_failures >= options_.failure_threshold) {
    state.open = true;
    state.opened_at_ms = now_ms;
  }
  // A late failure of a call admitted before the breaker opened leaves the cooldown be.
}

void HealthBook::record_neutral(std::string_view provider) {
  std::lock_guard lock(mu_);
  auto it = providers_.find(provider);
  if (it != providers_.end()) it->second.probe_in_flight = false;
}

json HealthBook::to_json() const {
  std::lock_guard lock(mu_);
  json providers = json::object();
  for (const auto& [name, state] : providers_) {
    std::string recent;
    for (bool ok : state.recent) recent += ok ? '1' : '0';
    providers[name] = {{"ttft_us", state.ttft_us ? json(*state.ttft_us) : json(nullptr)},
                       {"total_us", state.total_us ? json(*state.total_us) : json(nullptr)},
                       {"recent", recent},
                       {"consecutive_failures", state.consecutive_failures},
                       {"open", state.open},
                       {"opened_at_ms", state.opened_at_ms}};
  }
  return {{"version", 1}, {"providers", providers}};
}

Status HealthBook::load_json(const json& doc) {
  if (!doc.is_object() || doc.value("version", json()) != json(1))
    return make_error(ErrorKind::invalid_argument, "provider health is not a version 1 document",
                      "health");
  auto list = doc.find("providers");
  if (list == doc.end() || !list->is_object())
    return make_error(ErrorKind::invalid_argument, "provider health has no \"providers\"",
                      "health");
  std::map<std::string, State, std::less<>> loaded;
  for (const auto& [name, entry] : list->items()) {
    if (!entry.is_object()) return bad_field(name, "entry");
    State state;
    if (!read_optional_us(entry, "ttft_us", state.ttft_us)) return bad_field(name, "ttft_us");
    if (!read_optional_us(entry, "total_us", state.total_us)) return bad_field(name, "total_us");
    const json recent = entry.value("recent", json(""));
    if (!recent.is_string()) return bad_field(name, "recent");
    for (char c : recent.get<std::string>()) {
      if (c != '0' && c != '1') return bad_field(name, "recent");
      push_outcome(state, c == '1');
    }
    const json failures = entry.value("consecutive_failures", json(0));
    if (!failures.is_number_integer() || failures.get<std::int64_t>() < 0 ||
        failures.get<std::int64_t>() > 1'000'000)
      return bad_field(name, "consecutive_failures");
    state.consecutive_failures = failures.get<int>();
    const json open = entry.value("open", json(false));
    if (!open.is_boolean()) return bad_field(name, "open");
    state.open = open.get<bool>();
    const json opened_at = entry.value("opened_at_ms", json(0));
    if (!opened_at.is_number_integer() || opened_at.get<std::int64_t>() < 0 ||
        opened_at.get<std::int64_t>() > kMaxTimeMs)
      return bad_field(name, "opened_at_ms");
    state.opened_at_ms = opened_at.get<std::int64_t>();
    loaded.emplace(name, std::move(state));
  }
  std::lock_guard lock(mu_);
  providers_ = std::move(loaded);
  return Status::success();
}

}  // namespace perdiem::router
