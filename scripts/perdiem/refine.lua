-- perdiem.refine: draft, critique, revise, until the critic approves or the rounds run out.
--
--   local refine = require "perdiem.refine"
--   local text, info = refine.run{
--     task = "Write a haiku about credits",   -- required
--     draft = nil,            -- a first draft to start from (else the model writes one)
--     check = function(draft, round) return ok, feedback end,  -- the critic; optional:
--                             -- without it the model judges (see below)
--     max_rounds = 3,         -- revisions at most (0 to 10, default 3)
--     model = nil, critic_model = nil, max_tokens = nil, system = nil,
--   }
--   -- info = {approved =, rounds =, history = {{draft =, approved =, feedback =}, ...},
--   --         cost_nanos =}
--
-- Every draft is judged, the last one too, so info.approved is the critic's verdict on
-- the text returned. When check is absent the critic is a model call (critic_model, else
-- model) that must answer starting with APPROVED to approve; anything else is its
-- feedback. A draft the critic rejects is revised with the feedback, at most max_rounds
-- times; then the last draft is returned with approved = false (not an error).

local M = {}

local function fail(message)
  error("refine.run: " .. message, 3)
end

function M.run(options)
  if type(options) ~= "table" then fail("expected an options table") end
  local task, check = options.task, options.check
  if type(task) ~= "string" then fail("task must be a string") end
  if check ~= nil and type(check) ~= "function" then fail("check must be a function(draft, round) -> ok, feedback") end
  if options.draft ~= nil and type(options.draft) ~= "string" then fail("draft must be a string") end
  local max_rounds = options.max_rounds or 3
  if math.type(max_rounds) ~= "integer" or max_rounds < 0 or max_rounds > 10 then
    fail("max_rounds must be an integer from 0 to 10")
  end

  local info = { approved = false, rounds = 0, history = {}, cost_nanos = 0 }
  local function ask(prompt, model_name)
    local messages = {}
    if options.system then messages[1] = { role = "system", content = options.system } end
    messages[#messages + 1] = { role = "user", content = prompt }
    local reply = model.chat{ messages = messages, model = model_name, max_tokens = options.max_tokens }
    info.cost_nanos = info.cost_nanos + reply.cost_nanos
    return reply.content
  end
  local critic = check or function(draft)
    local verdict = ask("Judge this draft against the task. If it fully does the task, answer "
      .. "APPROVED. Otherwise say what to fix.\n\nDraft:\n" .. draft .. "\n\nTask:\n" .. task,
      options.critic_model or options.model)
    if verdict:match("^%s*APPROVED") then return true end
    return false, verdict
  end

  local draft = options.draft or ask(task, options.model)
  for round = 0, max_rounds do
    local ok, feedback = critic(draft, round)
    info.history[#info.history + 1] = { draft = draft, approved = ok and true or false, feedback = feedback }
    if ok then
      info.approved = true
      return draft, info
    end
    if round == max_rounds then break end
    info.rounds = round + 1
    draft = ask("Revise the draft to fix what the critic found; answer with the new draft only."
      .. "\n\nCritique:\n" .. tostring(feedback or "it does not do the task yet") .. "\n\nTask:\n"
      .. task .. "\n\nDraft:\n" .. draft, options.model)
  end
  return draft, info
end

return M
