-- refine.lua: draft, critique, revise until a check approves (perdiem.refine).
--
--   perdiem run examples/agents/refine.lua "Write a tagline for a compute wallet"
--
-- The critic here is a function: the draft must be short and mention credits. Without
-- `check`, refine asks a model to judge (it approves by answering APPROVED).

local refine = require "perdiem.refine"

local task = agent.args[1] or "reply with exactly: Credits that pay for your agent's thinking"
local text, info = refine.run{
  task = task,
  check = function(draft)
    if #draft > 120 then return false, "make it shorter than 120 characters" end
    if not draft:lower():find("credit") then return false, "mention credits" end
    return true
  end,
  max_rounds = 2,
  max_tokens = 80,
}
return { text = text, approved = info.approved, revisions = info.rounds }
