-- spawn/join: create 100,000 coroutines that each compute a small int, then run ("join")
-- them all. Lua has no scheduler, so "spawn" is coroutine.create with the argument kept
-- beside it, and "join" is the resume that runs the body to its return. As with a fiber,
-- every coroutine exists before the first one runs.
local function work(i)
  return i * i % 1009
end

local function main(n)
  local create, resume = coroutine.create, coroutine.resume
  local tasks = {}
  for i = 0, n - 1 do
    tasks[i + 1] = create(work)
  end
  local sum = 0
  for i = 0, n - 1 do
    local ok, v = resume(tasks[i + 1], i)
    if not ok then error(v) end
    sum = sum + v
  end
  print(sum)
end

main(100000)
