// The mock provider's faults: checking the options, deciding what happens to the N-th
// model request, and reading a scenario file. Pure: no I/O, no clocks; the randomness is
// a function of the seed and the request's number, so a scenario replays exactly.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "perdiem/error.hpp"
#include "perdiem/mock_provider.hpp"

namespace perdiem::providers::mock {

// invalid_argument naming the option at fault: a rate outside 0..1, a status outside
// 400..599, a negative count or duration.
Status validate(const MockProviderOptions& options);

struct FaultDecision {
  std::chrono::milliseconds latency{0};  // wait this long before answering
  std::optional<int> fail_status;        // answer with this status instead
};

// What happens to model request number `n` (1 for the first).
FaultDecision decide(const MockProviderOptions& options, std::uint64_t n);

// See perdiem::mock_scenario_from_json.
Result<MockProviderOptions> scenario_from_json(std::string_view json, MockProviderOptions base);

}  // namespace perdiem::providers::mock
