-- pingpong_buffered: a producer sends 2,000,000 ints into a channel with a 64-value buffer
-- (sched.lua), a consumer sums them. The producer runs ahead until the buffer is full.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local sched = require("sched")

local function producer(ch, n)
  for i = 0, n - 1 do
    ch:send(i)
  end
  ch:close()
end

local function consumer(ch, result)
  local sum = 0
  while true do
    local v, ok = ch:recv()
    if not ok then break end
    sum = (sum * 31 + v) % 1000003
  end
  result.value = sum
end

local function main(n)
  local ch = sched.chan(64)
  local result = {}
  sched.spawn(consumer, ch, result)
  sched.spawn(producer, ch, n)
  sched.run(function() end)
  print(result.value)
end

main(2000000)
