-- map_reduce.lua: one model call per item, three at a time, results in item order, then
-- one call to merge them (perdiem.map_reduce).
--
--   perdiem run examples/agents/map_reduce.lua red green blue
--
-- On the offline sim provider each item's prompt scripts its answer ("reply with
-- exactly: ..."); a real model would describe each colour.

local map_reduce = require "perdiem.map_reduce"

local items = #agent.args > 0 and agent.args or { "red", "green", "blue", "amber", "violet" }
local merged, info = map_reduce.run{
  items = items,
  map = "reply with exactly: {item} is colour number {index}",
  reduce = function(results, info)
    local lines = {}
    for i = 1, info.count do lines[#lines + 1] = results[i] or ("(item " .. i .. " failed)") end
    return table.concat(lines, "; ")
  end,
  concurrency = 3,
  max_tokens = 60,
}
log.info(info.count .. " items, " .. info.failed .. " failed")
return { merged = merged, failed = info.failed }
