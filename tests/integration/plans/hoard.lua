-- Keeps every string it makes: only the memory limit stops it.
local kept = {}
for i = 1, math.huge do kept[i] = string.rep("x", 1024) .. i end
