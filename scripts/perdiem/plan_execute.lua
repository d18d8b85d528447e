-- perdiem.plan_execute: ask a model for a numbered plan, carry out each step, then write
-- the final answer from the steps' results.
--
--   local plan_execute = require "perdiem.plan_execute"
--   local answer, info = plan_execute.run{
--     goal = "Compare two libraries and recommend one",  -- required
--     max_steps = 5,          -- steps carried out at most (1 to 20, default 5)
--     tools = nil,            -- tool names: each step then runs as perdiem.react with them
--     max_rounds = 4,         -- react rounds per step, when tools are given
--     model = nil, max_tokens = nil, system = nil,
--   }
--   -- info = {plan = "the planner's text", steps = {{step =, result =}, ...},
--   --         dropped = steps beyond max_steps, cost_nanos =}
--
-- The planner's answer is read as a numbered list ("1. ...", "2) ..."), on separate lines
-- or one; numbers must count up from 1, so "3. apples" inside step 1 stays in step 1.
-- Steps past max_steps are not carried out (info.dropped counts them). A plan with no
-- numbered step raises an error table of kind bad_response. Each step sees the goal and
-- the results before it; the last model call writes the answer from all of them.

local M = {}

local function fail(message)
  error("plan_execute.run: " .. message, 3)
end

-- The steps of a numbered list, in order.
function M.parse_steps(text)
  local steps = {}
  local position, expected = 1, 1
  local current_start
  while true do
    -- the next "N." or "N)" at the start of the text or after whitespace
    local start, finish, number = text:find("(%d+)[%.%)]%s", position)
    if start == nil then break end
    if tonumber(number) == expected and (start == 1 or text:sub(start - 1, start - 1):match("%s")) then
      if current_start then steps[#steps + 1] = text:sub(current_start, start - 1) end
      current_start = finish + 1
      expected = expected + 1
    end
    position = finish + 1
  end
  if current_start then steps[#steps + 1] = text:sub(current_start) end
  for i, step in ipairs(steps) do steps[i] = step:match("^%s*(.-)%s*$") end
  return steps
end

function M.run(options)
  if type(options) ~= "table" then fail("expected an options table") end
  local goal = options.goal
  if type(goal) ~= "string" or goal == "" then fail("goal must be a non-empty string") end
  local max_steps = options.max_steps or 5
  if math.type(max_steps) ~= "integer" or max_steps < 1 or max_steps > 20 then
    fail("max_steps must be an integer from 1 to 20")
  end
  if options.tools ~= nil and type(options.tools) ~= "table" then fail("tools must be an array of tool names") end

  local info = { steps = {}, dropped = 0, cost_nanos = 0 }
  local function ask(prompt)
    local messages = {}
    if options.system then messages[1] = { role = "system", content = options.system } end
    messages[#messages + 1] = { role = "user", content = prompt }
    local reply = model.chat{ messages = messages, model = options.model, max_tokens = options.max_tokens }
    info.cost_nanos = info.cost_nanos + reply.cost_nanos
    return reply.content
  end

  info.plan = ask(goal .. "\n\nWrite a short numbered plan (at most " .. max_steps
    .. " steps, one per line: \"1. ...\") to reach this goal. Answer with the plan only.")
  local steps = M.parse_steps(info.plan)
  if #steps == 0 then
    error({ kind = "bad_response", message = "plan_execute: the planner's answer has no numbered steps: "
      .. info.plan:sub(1, 200) }, 0)
  end
  if #steps > max_steps then
    info.dropped = #steps - max_steps
    for i = #steps, max_steps + 1, -1 do steps[i] = nil end
  end

  local react = options.tools and require("perdiem.react")
  local done = {}
  for i, step in ipairs(steps) do
    -- The step comes first: it is what this call is about.
    local prompt = step .. "\n\n(Step " .. i .. " of " .. #steps .. " towards the goal: " .. goal
      .. (#done > 0 and ("\nResults so far:\n" .. table.concat(done, "\n")) or "") .. ")"
    local result
    if react then
      local react_info
      result, react_info = react.run{ task = prompt, tools = options.tools, system = options.system,
                                      max_rounds = options.max_rounds or 4, model = options.model,
                                      max_tokens = options.max_tokens }
      info.cost_nanos = info.cost_nanos + react_info.cost_nanos
    else
      result = ask(prompt)
    end
    info.steps[i] = { step = step, result = result }
    done[#done + 1] = i .. ". " .. step .. " -> " .. result
  end

  local answer = ask("Results of the steps:\n" .. table.concat(done, "\n")
    .. "\n\nFrom these results, write the final answer to the goal: " .. goal)
  return answer, info
end

return M
