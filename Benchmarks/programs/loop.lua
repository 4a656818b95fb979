-- Integer loop: a tight `for` over a range with int remainder and add.
local function run(n)
  local s = 0
  for i = 0, n - 1 do
    s = s + i % 7
  end
  return s
end

print(run(100000000))
