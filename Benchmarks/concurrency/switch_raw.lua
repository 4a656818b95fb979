-- switch_raw: a bare coroutine switch, the floor under switch.lua: 10,000,000 resumes of a
-- coroutine that yields at once, with no scheduler and no channel.
local function main(n)
  local yield, resume = coroutine.yield, coroutine.resume
  local co = coroutine.create(function()
    while true do yield() end
  end)
  local count = 0
  for _ = 1, n do
    resume(co)
    count = count + 1
  end
  print(count)
end

main(10000000)
