-- A plan that never ends on its own, and tries to swallow its limit.
while true do pcall(sleep, 0.05) end
