// clock.now: the current time, for models that otherwise guess it. Built-in.
#pragma once

#include "base/clock.hpp"
#include "tools/tool.hpp"

namespace perdiem::tools {

// {} -> {unix_ms, utc: "2026-11-26T03:04:05.678Z"}. `clock` must outlive the tool.
Tool make_clock_now_tool(const base::Clock& clock = base::system_clock());

}  // namespace perdiem::tools
