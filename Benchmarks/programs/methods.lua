-- Method calls: calling methods on instances of a class, reading and writing fields.
local Counter = {}
Counter.__index = Counter

function Counter.new(step)
  local self = setmetatable({}, Counter)
  self.count = 0
  self.step = step
  return self
end

function Counter:tick()
  self.count = self.count + self.step
  if self.count >= 1000 then
    self.count = self.count - 1000
  end
end

function Counter:value()
  return self.count
end

local function main(n)
  local counters = { Counter.new(1), Counter.new(3), Counter.new(7), Counter.new(11) }
  local sum = 0
  for i = 0, n - 1 do
    local c = counters[i % 4 + 1]
    c:tick()
    sum = sum + c:value()
  end
  print(sum)
end

main(10000000)
