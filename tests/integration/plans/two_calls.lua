-- Two model calls: the second is refused under --max-steps 1.
local first = model.chat{messages = {{role = "user", content = "reply with exactly: one"}}}
local second = model.chat{messages = {{role = "user", content = "reply with exactly: two"}}}
return first.content .. " " .. second.content
