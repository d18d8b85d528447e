-- perdiem.map_reduce: map a function or a prompt over a list, a few items at a time, then
-- reduce the results.
--
--   local mr = require "perdiem.map_reduce"
--   local summary, info = mr.run{
--     items = {"text one", "text two", ...},   -- an array, required
--     map = "Summarize in one line: {item}",   -- a prompt template ({item}, {index}), or
--                                              -- a function(item, index) -> result
--     reduce = "Merge these summaries:\n{results}",  -- optional: a template ({results}:
--                                              -- the results, numbered) or a
--                                              -- function(results, info) -> value
--     concurrency = 4,      -- items in flight at once, 1 to 16 (default 4)
--     fail_fast = false,    -- true: the first failure (by position) is raised
--     model = nil, max_tokens = nil, system = nil,   -- for the templates' model calls
--   }
--   -- info = {results = {...}, errors = {[index] = err}, failed = n, count = #items}
--
-- The items run in `concurrency` branches of parallel(): each branch takes the next
-- item as soon as it is done with one, so at most `concurrency` map calls are in flight.
-- results[i] is item i's result, whatever order they finished in. A failing item does
-- not stop the others: its error goes to info.errors[i] and results[i] is nil, unless
-- fail_fast is set, in which case no new item starts and the failure of the first failed
-- item is raised once those in flight finish. Without reduce, run returns the results
-- (an array with holes where items failed) and info.

local M = {}

local function fail(message)
  error("map_reduce.run: " .. message, 3)
end

-- "{name}" in template replaced by values[name]; other braces stay as they are.
local function fill(template, values)
  return (template:gsub("{(%w+)}", function(name)
    local value = values[name]
    if value == nil then return nil end
    return value
  end))
end

local function ask(options, prompt)
  local messages = {}
  if options.system then messages[1] = { role = "system", content = options.system } end
  messages[#messages + 1] = { role = "user", content = prompt }
  return model.chat{ messages = messages, model = options.model, max_tokens = options.max_tokens }.content
end

local function as_text(value)
  if type(value) == "string" then return value end
  if type(value) == "table" then return json.encode(value) end
  return tostring(value)
end

local function numbered(results, count)
  local lines = {}
  for i = 1, count do
    if results[i] ~= nil then lines[#lines + 1] = i .. ". " .. as_text(results[i]) end
  end
  return table.concat(lines, "\n")
end

function M.run(options)
  if type(options) ~= "table" then fail("expected an options table") end
  local items, map, reduce = options.items, options.map, options.reduce
  if type(items) ~= "table" then fail("items must be an array") end
  local count = #items
  if type(map) ~= "function" and type(map) ~= "string" then
    fail("map must be a function(item, index) or a prompt template string")
  end
  if reduce ~= nil and type(reduce) ~= "function" and type(reduce) ~= "string" then
    fail("reduce must be a function(results, info) or a prompt template string")
  end
  local concurrency = options.concurrency or 4
  if math.type(concurrency) ~= "integer" or concurrency < 1 or concurrency > 16 then
    fail("concurrency must be an integer from 1 to 16")
  end

  local map_one = map
  if type(map) == "string" then
    map_one = function(item, index)
      return ask(options, fill(map, { item = as_text(item), index = tostring(index) }))
    end
  end

  local results, errors = {}, {}
  local info = { results = results, errors = errors, failed = 0, count = count }
  local next_index, stop = 1, false
  local function worker()
    while not stop and next_index <= count do
      local index = next_index
      next_index = next_index + 1
      local ok, value = pcall(map_one, items[index], index)
      if ok then
        results[index] = value
      else
        errors[index] = value
        info.failed = info.failed + 1
        if options.fail_fast then stop = true end
      end
    end
  end
  local workers = {}
  for w = 1, math.min(concurrency, count) do workers[w] = worker end
  if #workers > 0 then parallel(table.unpack(workers)) end

  if options.fail_fast and info.failed > 0 then
    for i = 1, count do
      if errors[i] ~= nil then error(errors[i], 0) end
    end
  end
  if reduce == nil then return results, info end
  if type(reduce) == "string" then
    return ask(options, fill(reduce, { results = numbered(results, count) })), info
  end
  return reduce(results, info), info
end

return M
