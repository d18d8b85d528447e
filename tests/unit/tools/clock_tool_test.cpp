// clock.now reads the injected clock.
#include "tools/builtin/clock_tool.hpp"

#include <doctest/doctest.h>

using namespace perdiem;
using namespace perdiem::tools;

TEST_CASE("clock.now reports the clock's time in UTC") {
  base::ManualClock clock(1'795'000'000'123);
  Tool tool = make_clock_now_tool(clock);
  CHECK(tool.builtin);
  auto now = tool.handler(nlohmann::json::object(), ToolContext{});
  REQUIRE(now.ok());
  CHECK((*now)["unix_ms"] == 1'795'000'000'123);
  CHECK((*now)["utc"] == "2026-11-18T11:06:40.123Z");
}
