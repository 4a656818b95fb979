-- select_fanin: 8 producers each send 50,000 ints on their own unbuffered channel; one
-- consumer takes them with a select over the 8 channels until all are closed. Prints the
-- count and a checksum that weighs each value by its channel's number.
--
-- sched.lua's select_recv waits on a list of channels and returns the index of the one it
-- received from. A channel that reports closed is dropped from the list (the last one moves
-- into its place, with its weight), where Capsule and Go swap in a channel nobody sends on.
package.path = (arg[0]:match("^(.*/)") or "./") .. "?.lua;" .. package.path
local sched = require("sched")

local function producer(ch, base, n)
  for i = 0, n - 1 do
    ch:send(base + i)
  end
  ch:close()
end

local function consumer(chans, result)
  local weights = {}
  for i = 1, #chans do weights[i] = i end
  local open, count, sum = #chans, 0, 0
  local select_recv = sched.select_recv
  while open > 0 do
    local i, v, ok = select_recv(chans, open)
    if ok then
      count = count + 1
      sum = (sum + weights[i] * v) % 1000003
    else
      chans[i], weights[i] = chans[open], weights[open]
      chans[open], weights[open] = nil, nil
      open = open - 1
    end
  end
  result.count, result.sum = count, sum
end

local function main(n)
  local chans = {}
  for p = 0, 7 do
    local ch = sched.chan()
    chans[p + 1] = ch
    sched.spawn(producer, ch, p * n, n)
  end
  local result = {}
  sched.spawn(consumer, chans, result)
  sched.run(function() end)
  print(result.count .. " " .. result.sum)
end

main(50000)
