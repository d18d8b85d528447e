-- research.lua: a tool-using agent (perdiem.react). It reads a file from its workspace
-- with the built-in fs.read and a note-taking tool the plan defines itself.
--
--   perdiem run --workspace examples/agents --allow-tool fs.read examples/agents/research.lua
--
-- On the offline sim provider the user message scripts the tool calls ("call tool NAME
-- with {...}"); a real model decides for itself from the tools' descriptions.

local react = require "perdiem.react"

local notes = {}
tool.define{
  name = "notes.add",
  description = "Keep a short note for the final answer.",
  params = { type = "object", properties = { text = { type = "string" } }, required = { "text" } },
  fn = function(args)
    notes[#notes + 1] = args.text
    return "noted (" .. #notes .. ")"
  end,
}

local task = agent.args[1] or table.concat({
  "Read hello.lua and note what it does.",
  "call tool fs__read with {\"path\": \"hello.lua\"}",
  "call tool notes__add with {\"text\": \"hello.lua asks a model one question\"}",
}, "\n")

local answer, info = react.run{ task = task, tools = { "fs.read", "notes.add" }, max_rounds = 4 }
log.info("rounds: " .. info.rounds .. ", tool calls: " .. info.tool_calls)
return { answer = answer, notes = notes, tool_calls = info.tool_calls }
