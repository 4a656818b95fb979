-- pingpong: two tasks bounce an int over a pair of unbuffered channels, 400,000 round
-- trips, on the channels of sched.lua (a tiny scheduler over coroutines). Each round trip
-- is two channel handoffs, so two coroutine switches through the scheduler. switch_raw.lua
-- has the bare coroutine resume/yield cost without channels.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local sched = require("sched")

local function pinger(ping, pong, n, result)
  local v = 0
  for _ = 1, n do
    ping:send(v)
    v = pong:recv()
  end
  ping:close()
  result.value = v
end

local function ponger(ping, pong)
  while true do
    local v, ok = ping:recv()
    if not ok then break end
    pong:send(v + 1)
  end
end

local function main(n)
  local ping, pong = sched.chan(), sched.chan()
  local result = {}
  sched.spawn(ponger, ping, pong)
  sched.spawn(pinger, ping, pong, n, result)
  sched.run(function() end)
  print(result.value)
end

main(400000)
