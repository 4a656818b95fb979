-- String building: interpolation, concatenation and join of many small strings.
-- Prints the total length of all joined strings and two slices of the last one.
local function main(rounds)
  local total = 0
  local last = ""
  for r = 0, rounds - 1 do
    local parts = {}
    for i = 0, 999 do
      local line = "item " .. i .. ": " .. (i * r % 97)
      line = line .. " [" .. tostring(i % 13) .. "]"
      parts[#parts + 1] = line
    end
    local s = table.concat(parts, ", ")
    total = total + #s
    last = s
  end
  print(total)
  print(string.sub(last, 1, 40))
  print(string.sub(last, #last - 40 + 1))
end

main(2000)
