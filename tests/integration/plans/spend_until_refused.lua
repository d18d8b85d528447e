-- Calls the model until the wallet refuses; the refusal ends the run.
local calls = 0
while true do
  local reply = model.chat{ messages = {{ role = "user", content = "hi" }}, max_tokens = 100 }
  calls = calls + 1
  log.info("call " .. calls .. " cost " .. reply.cost_nanos .. " nano-USD")
end
