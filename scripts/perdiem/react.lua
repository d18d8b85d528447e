-- perdiem.react: the tool-using loop (ReAct). The model answers or asks for tools; the
-- tools run (tool.run) and their results go back, until it answers or the rounds run out.
--
--   local react = require "perdiem.react"
--   local answer, info = react.run{
--     task = "What does notes.txt say?",        -- or messages = {...}
--     tools = {"fs.read", "notes.add"},         -- tool names the model may call
--     system = "You are careful.",              -- optional
--     max_rounds = 8, max_tokens = 512, model = nil,
--   }
--   -- info = {rounds =, tool_calls =, messages =, cost_nanos =}
--
-- Raises a `limit` error table when the model still wants tools after max_rounds.

local M = {}

function M.run(options)
  assert(type(options) == "table", "react.run: expected an options table")
  local messages = options.messages
  if not messages then
    assert(type(options.task) == "string", "react.run: give task (a string) or messages")
    messages = {}
    if options.system then messages[#messages + 1] = { role = "system", content = options.system } end
    messages[#messages + 1] = { role = "user", content = options.task }
  end
  local max_rounds = options.max_rounds or 8
  local info = { rounds = 0, tool_calls = 0, messages = messages, cost_nanos = 0 }
  for round = 1, max_rounds do
    info.rounds = round
    local reply = model.chat{
      messages = messages,
      tools = options.tools,
      model = options.model,
      max_tokens = options.max_tokens,
    }
    info.cost_nanos = info.cost_nanos + reply.cost_nanos
    if not reply.tool_calls then return reply.content, info end
    messages[#messages + 1] = { role = "assistant", content = reply.content, tool_calls = reply.tool_calls }
    for _, result in ipairs(tool.run(reply.tool_calls)) do
      messages[#messages + 1] = result
    end
    info.tool_calls = info.tool_calls + #reply.tool_calls
  end
  error({ kind = "limit", message = "react: still calling tools after " .. max_rounds .. " rounds" })
end

return M
