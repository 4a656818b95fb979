-- Hash map: insert and look up int keys (scattered, with overwrites and misses), then
-- string keys.
local function main(n, string_keys, rounds)
  -- Int keys: i * 7919 % 1000003 revisits keys, so some inserts overwrite.
  local m = {}
  local distinct = 0
  for i = 0, n - 1 do
    local k = i * 7919 % 1000003
    if m[k] == nil then
      distinct = distinct + 1
    end
    m[k] = i
  end
  -- Lookups: roughly half of these keys are missing.
  local sum = 0
  local hits = 0
  for i = 0, n - 1 do
    local v = m[i * 31 % 2000003]
    if v ~= nil then
      hits = hits + 1
      sum = (sum + v) % 1000000007
    end
  end
  -- String keys.
  local keys = {}
  for i = 0, string_keys - 1 do
    keys[i + 1] = "key" .. i
  end
  local sm = {}
  for i = 0, string_keys - 1 do
    sm[keys[i + 1]] = i
  end
  for r = 0, rounds - 1 do
    for i = 0, string_keys - 1 do
      sum = (sum + sm[keys[i * 17 % string_keys + 1]] * (r + 1)) % 1000000007
    end
  end
  print(distinct .. " " .. hits .. " " .. sum)
end

main(2000000, 100000, 60)
