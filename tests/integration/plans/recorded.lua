-- A run worth replaying: two chats (the second built from the first), an embedding and
-- a remembered fact.
local topic = agent.args[1] or "compute credits"
local first = model.chat{messages = {{role = "user", content = "Name one fact about " .. topic}}}
local second = model.chat{messages = {
  {role = "user", content = "Name one fact about " .. topic},
  {role = "assistant", content = first.content},
  {role = "user", content = "reply with exactly: noted"},
}}
local e = model.embed(first.content)
memory.remember(first.content, {ns = "facts", source = topic})
return second.content .. " (" .. #e.vector .. " dims, " .. first.provider .. ")"
