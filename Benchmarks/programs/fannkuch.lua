-- Fannkuch-redux (Computer Language Benchmarks Game): small-int list indexing, swaps and
-- loops. Prints the checksum and the maximum number of flips.
-- Arrays are 1-based; the values stored in them are 0-based as in the other versions.
local function fannkuch(n)
  local perm, perm1, count = {}, {}, {}
  for i = 1, n do
    perm[i] = 0
    perm1[i] = i - 1
    count[i] = 0
  end
  local max_flips, checksum, perm_count = 0, 0, 0
  local r = n
  while true do
    while r ~= 1 do
      count[r] = r
      r = r - 1
    end
    for i = 1, n do
      perm[i] = perm1[i]
    end
    local flips = 0
    local k = perm[1]
    while k ~= 0 do
      local i, j = 1, k + 1
      while i < j do
        local tmp = perm[i]
        perm[i] = perm[j]
        perm[j] = tmp
        i = i + 1
        j = j - 1
      end
      flips = flips + 1
      k = perm[1]
    end
    if flips > max_flips then max_flips = flips end
    if perm_count % 2 == 0 then
      checksum = checksum + flips
    else
      checksum = checksum - flips
    end
    -- Next permutation.
    while true do
      if r == n then
        return checksum, max_flips
      end
      local perm0 = perm1[1]
      for i = 1, r do
        perm1[i] = perm1[i + 1]
      end
      perm1[r + 1] = perm0
      count[r + 1] = count[r + 1] - 1
      if count[r + 1] > 0 then break end
      r = r + 1
    end
    perm_count = perm_count + 1
  end
end

local function main(n)
  local checksum, max_flips = fannkuch(n)
  print(checksum)
  print("Pfannkuchen(" .. n .. ") = " .. max_flips)
end

main(10)
