// What a receipt commits to about a call: keccak256 of the request and of the answer in
// a canonical JSON form (keys sorted, no spaces, strings escaped as nlohmann::json dumps
// them), written by hand because it runs twice per metered call.
#pragma once

#include "runtime/providers/provider.hpp"
#include "wallet/keys.hpp"

namespace perdiem::metering {

// {"max_tokens":..,"messages":[{"content":..,"role":..},..],"model":..,"temperature":..}
// (max_tokens and temperature only when set).
wallet::Hash32 request_hash(const providers::ChatRequest& request);
// {"content":..,"finish_reason":..,"model":..,"provider":..}
wallet::Hash32 response_hash(const providers::ChatResponse& response);

}  // namespace perdiem::metering
