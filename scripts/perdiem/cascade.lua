-- perdiem.cascade: ask a cheap model first and a stronger one only when a check rejects
-- the answer, never spending past a budget.
--
--   local cascade = require "perdiem.cascade"
--   local answer, info = cascade.run{
--     task = "What is 17 * 23?",            -- or messages = {...}
--     models = {"small-model", "big-model"},  -- cheapest first, required
--     check = function(answer, reply) return answer:match("391") ~= nil, "wrong product" end,
--     budget = 0.01,              -- USD the cascade may spend (or budget_nanos = 10000000);
--                                 -- optional: the wallet's balance bounds it anyway
--     max_tokens = 200, temperature = nil, system = nil,
--   }
--   -- info = {model =, accepted =, refused =, spent_nanos =, escalations =,
--   --         tried = {{model =, accepted =, why =, cost_nanos =}, ...}}
--
-- Before each call the cascade prices it with wallet.quote (the worst case the wallet
-- would reserve) and refuses it when that, added to what the cascade has spent, would pass
-- the budget, or when the wallet's balance (allowance + USD) cannot cover it. A refused
-- escalation, or one the wallet itself refuses (budget_exceeded, insufficient_credits),
-- ends the cascade: it returns the last answer with info.accepted = false and
-- info.refused = the reason. When even the first call is refused there is no answer to
-- return: run raises an error table of kind budget_exceeded. check(answer, reply) returns
-- true to accept (a second result, why it rejected, goes to info.tried); when no model
-- passes, the strongest model's answer is returned with accepted = false.

local M = {}

local function fail(message)
  error("cascade.run: " .. message, 3)
end

local function usd(nanos)
  return string.format("$%.9f", nanos / 1e9)
end

-- What the wallet could pay now, in nano-USD, or nil when it cannot say.
local function available()
  local ok, balance = pcall(wallet.balance)
  if not ok then return nil end
  return balance.allowance_nanos + balance.usd_nanos
end

-- Why the call `request` must not be made, or nil when it may.
local function refusal(request, spent, budget)
  local _, worst = wallet.quote(request)
  if budget and spent + worst > budget then
    return string.format("%s could cost up to %s; %s of the budget %s is left", request.model,
                         usd(worst), usd(budget - spent), usd(budget))
  end
  local funds = available()
  if funds and worst > funds then
    return string.format("%s could cost up to %s; the wallet holds %s", request.model,
                         usd(worst), usd(funds))
  end
  return nil
end

local function is_refusal(err)
  return type(err) == "table" and (err.kind == "budget_exceeded" or err.kind == "insufficient_credits")
end

function M.run(options)
  if type(options) ~= "table" then fail("expected an options table") end
  local models, check = options.models, options.check
  if type(models) ~= "table" or #models == 0 then fail("models must be a non-empty array of model names") end
  for i, name in ipairs(models) do
    if type(name) ~= "string" then fail("models[" .. i .. "] must be a string") end
  end
  if type(check) ~= "function" then fail("check must be a function(answer, reply) -> ok, why") end
  local messages = options.messages
  if messages == nil then
    if type(options.task) ~= "string" then fail("give task (a string) or messages") end
    messages = {}
    if options.system then messages[1] = { role = "system", content = options.system } end
    messages[#messages + 1] = { role = "user", content = options.task }
  end
  local budget = options.budget_nanos
  if budget == nil and options.budget ~= nil then
    if type(options.budget) ~= "number" or options.budget < 0 then fail("budget must be a number of USD, 0 or more") end
    budget = math.floor(options.budget * 1e9 + 0.5)
  end
  if budget ~= nil and (math.type(budget) ~= "integer" or budget < 0) then
    fail("budget_nanos must be an integer of 0 or more")
  end

  local info = { tried = {}, spent_nanos = 0, escalations = 0, accepted = false }
  local answer
  for i, name in ipairs(models) do
    local request = { messages = messages, model = name, max_tokens = options.max_tokens,
                      temperature = options.temperature }
    local reason = refusal(request, info.spent_nanos, budget)
    local ok, reply
    if reason == nil then
      ok, reply = pcall(model.chat, request)
      if not ok then
        if not is_refusal(reply) then error(reply, 0) end
        reason = name .. ": " .. tostring(reply.message)
      end
    end
    if reason ~= nil then
      if answer == nil then
        error({ kind = "budget_exceeded", message = "cascade: cannot afford any model: " .. reason }, 0)
      end
      info.refused = "not escalating to " .. reason
      return answer, info
    end
    if i > 1 then info.escalations = info.escalations + 1 end
    info.spent_nanos = info.spent_nanos + reply.cost_nanos
    answer, info.model, info.reply = reply.content, name, reply
    local accepted, why = check(reply.content, reply)
    info.tried[i] = { model = name, accepted = accepted and true or false, why = why,
                      cost_nanos = reply.cost_nanos }
    if accepted then
      info.accepted = true
      return answer, info
    end
  end
  return answer, info
end

return M
