#include "tools/builtin/clock_tool.hpp"

#include <cinttypes>
#include <cstdio>
#include <ctime>

namespace perdiem::tools {
namespace {

std::string iso8601_utc(std::int64_t unix_ms) {
  std::int64_t ms = ((unix_ms % 1000) + 1000) % 1000;
  std::time_t seconds = static_cast<std::time_t>((unix_ms - ms) / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];  // room for any int the fields could hold, to satisfy -Wformat-truncation
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03" PRId64 "Z",
                utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min,
                utc.tm_sec, ms);
  return text;
}

}  // namespace

Tool make_clock_now_tool(const base::Clock& clock) {
  Tool tool;
  tool.name = "clock.now";
  tool.description = "The current date and time in UTC.";
  tool.parameters = {{"type", "object"},
                     {"properties", nlohmann::json::object()},
                     {"additionalProperties", false}};
  tool.builtin = true;
  tool.handler = [&clock](const nlohmann::json&, const ToolContext&) -> Result<nlohmann::json> {
    std::int64_t now = clock.now_unix_ms();
    return nlohmann::json{{"unix_ms", now}, {"utc", iso8601_utc(now)}};
  };
  return tool;
}

}  // namespace perdiem::tools
