-- hello.lua: the smallest useful agent. It asks a model one question and returns the
-- answer, naming the provider that served it.
--
--   perdiem run examples/agents/hello.lua                  -- offline sim provider
--   perdiem run examples/agents/hello.lua "What is DIEM?"  -- your own question

local question = agent.args[1] or "In one sentence: why do agents need their own wallet?"

local reply = model.chat{
  messages = {
    { role = "system", content = "You are a concise assistant." },
    { role = "user", content = question },
  },
  max_tokens = 200,
}

log.info("tokens: " .. reply.usage.input .. " in, " .. reply.usage.output .. " out")
return reply.content .. "\n(served by " .. reply.provider .. ", model " .. reply.model .. ")"
