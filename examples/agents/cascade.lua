-- cascade.lua: ask a small model first and a large one only if the answer fails a check,
-- within a budget (perdiem.cascade).
--
--   perdiem run examples/agents/cascade.lua "What is 17 * 23?"
--
-- The check wants a bare number. On the offline sim provider the default task scripts
-- the answer, and both "models" are the free sim, so the budget is never in the way; with
-- a priced provider the cascade prices the large model with wallet.quote before asking it.

local cascade = require "perdiem.cascade"

local task = agent.args[1] or "reply with exactly: 391"
local answer, info = cascade.run{
  task = task,
  models = { "small-model", "large-model" },
  check = function(text)
    return text:match("^%s*%d+%s*$") ~= nil, "the answer is not a bare number"
  end,
  budget = 0.01,   -- USD: no escalation that could take the cascade past one cent
  max_tokens = 50,
}
return {
  answer = answer,
  model = info.model,
  accepted = info.accepted,
  escalations = info.escalations,
  refused = info.refused,
  spent_nanos = info.spent_nanos,
}
