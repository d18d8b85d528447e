// The wallet's small public helpers: money and UTC time, text in and out.
#include <cstdint>

#include "perdiem/wallet.hpp"
#include "wallet/money.hpp"
#include "wallet/utc.hpp"

namespace perdiem {
namespace {

constexpr std::int64_t kMaxYear = 9999;

// Howard Hinnant's days_from_civil: days since 1970-01-01 of a proleptic Gregorian date.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

// Reads exactly `width` digits at `pos`; false when they are not all digits.
bool digits(std::string_view text, std::size_t pos, std::size_t width, std::int64_t& out) {
  if (pos + width > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

Error bad_time(std::string_view text) {
  std::string shown(text.substr(0, 40));
  return make_error(ErrorKind::invalid_argument,
                    "invalid time '" + shown +
                        "': expected UTC as 2025-01-31 or 2025-01-31T18:00:00Z");
}

}  // namespace

Result<Nanos> parse_usd(std::string_view text) { return wallet::parse_usd(text); }
std::string format_usd(Nanos amount) { return wallet::format_usd(amount); }
std::string format_usd_display(Nanos amount) { return wallet::format_usd_display(amount); }

std::string format_utc(std::int64_t unix_seconds) { return wallet::utc_iso8601(unix_seconds); }

Result<std::int64_t> parse_utc(std::string_view text) {
  std::int64_t y = 0, m = 0, d = 0, hh = 0, mm = 0, ss = 0;
  if (!digits(text, 0, 4, y) || text.size() < 10 || text[4] != '-' || !digits(text, 5, 2, m) ||
      text[7] != '-' || !digits(text, 8, 2, d))
    return bad_time(text);
  if (text.size() > 10) {
    // THH:MMZ or THH:MM:SSZ
    if (text[10] != 'T' || !digits(text, 11, 2, hh) || text.size() < 17 || text[13] != ':' ||
        !digits(text, 14, 2, mm))
      return bad_time(text);
    std::size_t end = 16;
    if (text.size() > end && text[end] == ':') {
      if (!digits(text, end + 1, 2, ss)) return bad_time(text);
      end += 3;
    }
    if (text.size() != end + 1 || text[end] != 'Z') return bad_time(text);
  }
  if (y < 1970 || y > kMaxYear || m < 1 || m > 12 || d < 1 ||
      d > days_in_month(y, static_cast<unsigned>(m)) || hh > 23 || mm > 59 || ss > 59)
    return bad_time(text);
  return days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400 +
         hh * 3600 + mm * 60 + ss;
}

std::string_view to_string(GrantKind kind) { return kind == GrantKind::stake ? "stake" : "usd"; }

}  // namespace perdiem
