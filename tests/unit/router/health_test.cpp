// Provider health: moving averages, the success window, the circuit breaker's whole
// cycle on a ManualClock, and the JSON form that carries health across runs.
#include "runtime/router/health.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "base/clock.hpp"

using namespace perdiem;
using namespace perdiem::router;
using nlohmann::json;

TEST_CASE("a provider never seen reads as untried and closed") {
  HealthBook health;
  const ProviderStats s = health.stats("venice", 0);
  CHECK_FALSE(s.ttft_us);
  CHECK_FALSE(s.total_us);
  CHECK(s.success_permille == 500);
  CHECK(s.samples == 0);
  CHECK(s.breaker == Breaker::closed);
  CHECK(health.admit("venice", 0) == Admission::allowed);
}

TEST_CASE("latencies are moving averages; the first sample sets them") {
  HealthBook health(HealthOptions{.ewma_alpha_percent = 25});
  health.record_success("a", {100'000, 400'000});
  CHECK(health.stats("a", 0).ttft_us == 100'000);
  CHECK(health.stats("a", 0).total_us == 400'000);
  health.record_success("a", {200'000, 800'000});
  CHECK(health.stats("a", 0).ttft_us == 125'000);
  CHECK(health.stats("a", 0).total_us == 500'000);
  // A non-streamed call leaves time to first token alone.
  health.record_success("a", {std::nullopt, 500'000});
  CHECK(health.stats("a", 0).ttft_us == 125'000);
}

TEST_CASE("the success rate covers the last `window` outcomes") {
  HealthBook health(HealthOptions{.window = 4});
  for (int i = 0; i < 4; ++i) health.record_failure("a", 0);
  CHECK(health.stats("a", 0).success_permille == 1 * 1000 / 6);
  for (int i = 0; i < 4; ++i) health.record_success("a", {std::nullopt, 1});
  CHECK(health.stats("a", 0).samples == 4);
  CHECK(health.stats("a", 0).successes == 4);
  CHECK(health.stats("a", 0).success_permille == 5 * 1000 / 6);
  health.record_failure("a", 0);
  CHECK(health.stats("a", 0).successes == 3);
}

TEST_CASE("circuit breaker: closed -> open -> half-open probe -> open -> half-open -> closed") {
  base::ManualClock clock(1'000'000);
  HealthBook health(HealthOptions{.failure_threshold = 3, .cooldown_ms = 10'000});
  auto now = [&] { return clock.now_unix_ms(); };

  // Two failures: still closed. A success in between would have reset the count.
  health.record_failure("a", now());
  health.record_failure("a", now());
  CHECK(health.stats("a", now()).breaker == Breaker::closed);
  CHECK(health.admit("a", now()) == Admission::allowed);

  // The third consecutive failure opens it.
  health.record_failure("a", now());
  CHECK(health.stats("a", now()).breaker == Breaker::open);
  CHECK(health.stats("a", now()).half_open_at_ms == 1'010'000);
  CHECK(health.admit("a", now()) == Admission::refused);
  clock.advance_ms(9'999);
  CHECK(health.admit("a", now()) == Admission::refused);

  // Cooldown over: exactly one probe goes through.
  clock.advance_ms(1);
  CHECK(health.stats("a", now()).breaker == Breaker::half_open);
  CHECK(health.admit("a", now()) == Admission::probe);
  CHECK(health.admit("a", now()) == Admission::refused);
  CHECK(health.stats("a", now()).probe_in_flight);

  // The probe fails: open again for a whole new cooldown.
  clock.advance_ms(500);
  health.record_failure("a", now());
  CHECK(health.stats("a", now()).breaker == Breaker::open);
  CHECK(health.admit("a", now()) == Admission::refused);
  clock.advance_ms(9'999);
  CHECK(health.admit("a", now()) == Admission::refused);
  clock.advance_ms(1);
  CHECK(health.admit("a", now()) == Admission::probe);

  // The probe succeeds: closed, and the count starts over.
  health.record_success("a", {std::nullopt, 1'000});
  CHECK(health.stats("a", now()).breaker == Breaker::closed);
  CHECK(health.stats("a", now()).consecutive_failures == 0);
  CHECK(health.admit("a", now()) == Admission::allowed);
  health.record_failure("a", now());
  health.record_failure("a", now());
  CHECK(health.stats("a", now()).breaker == Breaker::closed);
}

TEST_CASE("a success resets the consecutive failure count") {
  HealthBook health(HealthOptions{.failure_threshold = 2});
  health.record_failure("a", 0);
  health.record_success("a", {std::nullopt, 1});
  health.record_failure("a", 0);
  CHECK(health.stats("a", 0).breaker == Breaker::closed);
  health.record_failure("a", 0);
  CHECK(health.stats("a", 0).breaker == Breaker::open);
}

TEST_CASE("a neutral outcome frees the probe slot and changes nothing else") {
  HealthBook health(HealthOptions{.failure_threshold = 1, .cooldown_ms = 10});
  health.record_failure("a", 0);
  REQUIRE(health.admit("a", 10) == Admission::probe);
  health.record_neutral("a");
  CHECK(health.stats("a", 10).breaker == Breaker::half_open);
  CHECK(health.stats("a", 10).samples == 1);
  CHECK(health.admit("a", 10) == Admission::probe);
  health.record_neutral("never-seen");  // harmless
}

TEST_CASE("late failures while open do not push the cooldown back") {
  HealthBook health(HealthOptions{.failure_threshold = 1, .cooldown_ms = 100});
  health.record_failure("a", 0);
  health.record_failure("a", 50);  // a call admitted before the breaker opened
  CHECK(health.stats("a", 100).breaker == Breaker::half_open);
}

TEST_CASE("health round-trips through JSON; a probe in flight is not saved") {
  HealthOptions options{.failure_threshold = 2, .cooldown_ms = 1'000};
  HealthBook health(options);
  health.record_success("venice", {180'000, 900'000});
  health.record_failure("venice", 5);
  health.record_failure("groq", 10);
  health.record_failure("groq", 20);
  REQUIRE(health.admit("groq", 1'020) == Admission::probe);

  const json doc = health.to_json();
  CHECK(doc["version"] == 1);
  CHECK(doc["providers"]["venice"]["recent"] == "10");
  CHECK(doc["providers"]["venice"]["ttft_us"] == 180'000);
  CHECK(doc["providers"]["groq"]["ttft_us"].is_null());
  CHECK(doc["providers"]["groq"]["open"] == true);
  CHECK(doc["providers"]["groq"]["opened_at_ms"] == 20);

  HealthBook reloaded(options);
  REQUIRE(reloaded.load_json(json::parse(doc.dump())).ok());
  CHECK(reloaded.to_json() == doc);
  const ProviderStats venice = reloaded.stats("venice", 0);
  CHECK(venice.ttft_us == 180'000);
  CHECK(venice.total_us == 900'000);
  CHECK(venice.consecutive_failures == 1);
  // The saved probe is gone: the next call after the reload probes.
  CHECK(reloaded.admit("groq", 1'020) == Admission::probe);
}

TEST_CASE("loading keeps the newest outcomes of a longer window") {
  HealthBook health(HealthOptions{.window = 3});
  const json doc = {{"version", 1}, {"providers", {{"a", {{"recent", "00111"}}}}}};
  REQUIRE(health.load_json(doc).ok());
  CHECK(health.stats("a", 0).samples == 3);
  CHECK(health.stats("a", 0).success_permille == 4 * 1000 / 5);
}

TEST_CASE("a bad health document is refused and the book left as it was") {
  HealthBook health;
  health.record_success("keep", {std::nullopt, 1});
  const json before = health.to_json();
  const json bad_docs[] = {
      json::array(),
      {{"version", 2}, {"providers", json::object()}},
      {{"version", 1}},
      {{"version", 1}, {"providers", {{"a", 3}}}},
      {{"version", 1}, {"providers", {{"a", {{"recent", "10x"}}}}}},
      {{"version", 1}, {"providers", {{"a", {{"ttft_us", -1}}}}}},
      {{"version", 1}, {"providers", {{"a", {{"total_us", "9"}}}}}},
      {{"version", 1}, {"providers", {{"a", {{"consecutive_failures", -1}}}}}},
      {{"version", 1}, {"providers", {{"a", {{"open", 1}}}}}},
      {{"version", 1}, {"providers", {{"a", {{"opened_at_ms", INT64_MAX}}}}}},
  };
  for (const json& doc : bad_docs) {
    CAPTURE(doc.dump());
    const Status status = health.load_json(doc);
    CHECK_FALSE(status.ok());
    if (!status.ok()) CHECK(status.error().kind == ErrorKind::invalid_argument);
    CHECK(health.to_json() == before);
  }
}
