#include "runtime/providers/mock_scenario.hpp"

#include <limits>
#include <string>

#include "base/random.hpp"
#include "runtime/providers/wire.hpp"

namespace perdiem::providers::mock {
namespace {

using wire::Json;

Error invalid(std::string message) {
  return make_error(ErrorKind::invalid_argument, std::move(message), "mock-provider");
}

// One independent stream per (seed, request number, purpose): requests served out of
// order on several threads still see the faults their numbers give them.
std::uint64_t draw(std::uint64_t seed, std::uint64_t n, std::uint64_t purpose,
                   std::uint64_t bound) {
  base::SeededRandom random(seed ^ (n * 0x9E3779B97F4A7C15ull) ^ (purpose << 56));
  random.next_u64();  // SplitMix64's first output is close to its seed's; skip it
  return random.uniform(bound);
}

constexpr std::uint64_t kJitter = 1;
constexpr std::uint64_t kErrorRate = 2;
constexpr std::uint64_t kRateScale = 1'000'000;

// Reads an integer member into `out`; invalid_argument naming it when it is not an
// integer in [lo, hi].
template <typename Int>
Status read_int(const Json& value, const std::string& name, std::int64_t lo, std::int64_t hi,
                Int& out) {
  if (!value.is_number_integer()) return invalid("scenario: '" + name + "' must be an integer");
  const auto v = value.get<std::int64_t>();
  if (value.is_number_unsigned() && value.get<std::uint64_t>() > static_cast<std::uint64_t>(hi))
    return invalid("scenario: '" + name + "' is out of range");
  if (v < lo || v > hi) {
    return invalid("scenario: '" + name + "' must be from " + std::to_string(lo) + " to " +
                   std::to_string(hi));
  }
  out = static_cast<Int>(v);
  return Status::success();
}

Status read_ms(const Json& value, const std::string& name, std::chrono::milliseconds& out) {
  std::int64_t ms = 0;
  if (Status s = read_int(value, name, 0, 3'600'000, ms); !s.ok()) return s;
  out = std::chrono::milliseconds(ms);
  return Status::success();
}

Status read_bool(const Json& value, const std::string& name, bool& out) {
  if (!value.is_boolean()) return invalid("scenario: '" + name + "' must be true or false");
  out = value.get<bool>();
  return Status::success();
}

Status read_member(const std::string& name, const Json& value, MockProviderOptions& o) {
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  if (name == "port") return read_int(value, name, 0, 65535, o.port);
  if (name == "host") {
    if (!value.is_string()) return invalid("scenario: 'host' must be a string");
    o.host = value.get<std::string>();
    return Status::success();
  }
  if (name == "seed") {
    if (!value.is_number_unsigned()) return invalid("scenario: 'seed' must be an integer >= 0");
    o.seed = value.get<std::uint64_t>();
    return Status::success();
  }
  if (name == "latency_ms") return read_ms(value, name, o.latency);
  if (name == "latency_jitter_ms") return read_ms(value, name, o.latency_jitter);
  if (name == "chunk_delay_ms") return read_ms(value, name, o.chunk_delay);
  if (name == "fail_first") return read_int(value, name, 0, kIntMax, o.fail_first);
  if (name == "fail_status") return read_int(value, name, 400, 599, o.fail_status);
  if (name == "error_rate") {
    if (!value.is_number() || value.get<double>() < 0.0 || value.get<double>() > 1.0)
      return invalid("scenario: 'error_rate' must be a number from 0 to 1");
    o.error_rate = value.get<double>();
    return Status::success();
  }
  if (name == "retry_after_seconds") {
    if (value.is_null()) {
      o.retry_after_seconds.reset();
      return Status::success();
    }
    int seconds = 0;
    if (Status s = read_int(value, name, 0, 86'400, seconds); !s.ok()) return s;
    o.retry_after_seconds = seconds;
    return Status::success();
  }
  if (name == "malformed_json") return read_bool(value, name, o.malformed_json);
  if (name == "wrong_content_type") return read_bool(value, name, o.wrong_content_type);
  if (name == "oversized_body_bytes")
    return read_int(value, name, 0, std::int64_t{1} << 30, o.oversized_body_bytes);
  if (name == "cut_after_chunks") {
    if (value.is_null()) {
      o.cut_after_chunks.reset();
      return Status::success();
    }
    std::size_t chunks = 0;
    if (Status s = read_int(value, name, 0, kIntMax, chunks); !s.ok()) return s;
    o.cut_after_chunks = chunks;
    return Status::success();
  }
  return invalid("scenario: unknown member '" + name +
                 "' (see `perdiem --help` under mock-provider for the names)");
}

}  // namespace

Status validate(const MockProviderOptions& o) {
  if (!(o.error_rate >= 0.0 && o.error_rate <= 1.0))
    return invalid("the error rate must be from 0 to 1");
  if (o.fail_status < 400 || o.fail_status > 599)
    return invalid("the failure status must be from 400 to 599");
  if (o.fail_first < 0) return invalid("the number of requests to fail first must be >= 0");
  if (o.retry_after_seconds && *o.retry_after_seconds < 0)
    return invalid("Retry-After must be >= 0 seconds");
  if (o.latency.count() < 0 || o.latency_jitter.count() < 0 || o.chunk_delay.count() < 0)
    return invalid("latencies and delays must be >= 0 ms");
  return Status::success();
}

FaultDecision decide(const MockProviderOptions& o, std::uint64_t n) {
  FaultDecision d;
  d.latency = o.latency;
  if (o.latency_jitter.count() > 0) {
    const auto extra =
        draw(o.seed, n, kJitter, static_cast<std::uint64_t>(o.latency_jitter.count()) + 1);
    d.latency += std::chrono::milliseconds(static_cast<std::int64_t>(extra));
  }
  if (n <= static_cast<std::uint64_t>(o.fail_first)) {
    d.fail_status = o.fail_status;
  } else if (o.error_rate > 0.0) {
    const auto threshold = static_cast<std::uint64_t>(o.error_rate * kRateScale);
    if (draw(o.seed, n, kErrorRate, kRateScale) < threshold) d.fail_status = o.fail_status;
  }
  return d;
}

Result<MockProviderOptions> scenario_from_json(std::string_view json, MockProviderOptions base) {
  const std::optional<Json> doc = wire::parse(json);
  if (!doc || !doc->is_object()) return invalid("a scenario must be a JSON object");
  for (const auto& [name, value] : doc->items()) {
    if (Status s = read_member(name, value, base); !s.ok()) return s.error();
  }
  if (Status s = validate(base); !s.ok()) return s.error();
  return base;
}

}  // namespace perdiem::providers::mock
