-- Closures: calling closures that read and assign variables captured from enclosing
-- functions.
local function make_adder(k)
  return function(x) return x + k end
end

local function make_counter()
  local n = 0
  return function()
    n = n + 1
    return n
  end
end

local function main(n)
  local adders = {}
  for k = 0, 9 do
    adders[#adders + 1] = make_adder(k)
  end
  local next = make_counter()
  local acc = 0
  local bump = function(x)
    acc = (acc + x) % 1000003
  end
  for i = 0, n - 1 do
    local add = adders[i % 10 + 1]
    bump(add(next()))
  end
  print(acc .. " " .. next())
end

main(15000000)
