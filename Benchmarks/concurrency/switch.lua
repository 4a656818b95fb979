-- switch: the cost of a task switch. A sender sends 500,000 ints on an unbuffered channel
-- (sched.lua) and a receiver counts them. As in Capsule and Go the two take turns, one
-- switch per message.
-- switch_raw.lua measures a bare coroutine resume/yield, without scheduler or channel.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local sched = require("sched")

local function sender(ch, n)
  for i = 0, n - 1 do
    ch:send(i)
  end
  ch:close()
end

local function receiver(ch, result)
  local count = 0
  while true do
    local _, ok = ch:recv()
    if not ok then break end
    count = count + 1
  end
  result.count = count
end

local function main(n)
  local ch = sched.chan()
  local result = {}
  sched.spawn(receiver, ch, result)
  sched.spawn(sender, ch, n)
  sched.run(function() end)
  print(result.count)
end

main(500000)
