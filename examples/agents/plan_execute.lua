-- plan_execute.lua: plan in numbered steps, carry each out, then answer
-- (perdiem.plan_execute).
--
--   perdiem run examples/agents/plan_execute.lua "Choose a database for a note app"
--
-- On the offline sim provider the default goal scripts the plan, and each step scripts
-- its own result (the sim answers the first "reply with exactly:" of a prompt, and each
-- prompt starts with its own part); a real model writes both.

local plan_execute = require "perdiem.plan_execute"

local goal = agent.args[1] or
  "reply with exactly: 1. reply with exactly: SQLite is embedded 2. reply with exactly: it needs no server 3. reply with exactly: pick SQLite"
local answer, info = plan_execute.run{ goal = goal, max_steps = 4, max_tokens = 200 }
local results = {}
for i, step in ipairs(info.steps) do results[i] = step.result end
return { answer = answer, steps = results, dropped = info.dropped }
