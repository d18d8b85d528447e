// UTC calendar helpers for the allowance day and human-readable times. Pure functions of
// their arguments; all time comes from base::Clock.
#pragma once

#include <cstdint>
#include <string>

namespace perdiem::wallet {

inline constexpr std::int64_t kMsPerDay = 86'400'000;

// Days since 1970-01-01 UTC (floor division, so times before the epoch work).
std::int64_t utc_day(std::int64_t unix_ms);
// "YYYY-MM-DD" of the UTC day containing unix_ms.
std::string utc_date(std::int64_t unix_ms);
// "YYYY-MM-DDTHH:MM:SSZ" for a time in Unix seconds.
std::string utc_iso8601(std::int64_t unix_seconds);

}  // namespace perdiem::wallet
