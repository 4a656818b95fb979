-- Regular expressions: extract ten fields from each of 300k generated log lines with one
-- pattern, then a global replace over a 30k-line block (Lua patterns: string.match, gsub).
-- Prints the sum of one field, a count, per-user counts and the replaced block's length.
local function make_lines(n)
  local levels = {"INFO", "WARN", "ERROR", "DEBUG"}
  local users = {"alice", "bob", "carol", "dave", "eve"}
  local lines = {}
  local seed = 42
  for i = 0, n - 1 do
    seed = (seed * 1103515245 + 12345) % 2147483648
    local h = seed % 24
    local m = seed // 24 % 60
    local s = seed // 1440 % 60
    local level = levels[seed // 7 % 4 + 1]
    local user = users[seed // 11 % 5 + 1]
    lines[#lines + 1] = "2026-12-07 " .. h .. ":" .. m .. ":" .. s .. " " .. level .. " user=" .. user
      .. " id=" .. i .. " took=" .. (seed % 1000) .. "ms"
  end
  return lines
end

local function main(n)
  local lines = make_lines(n)
  local pattern = "^(%d+)-(%d+)-(%d+) (%d+):(%d+):(%d+) (%w+) user=(%w+) id=(%d+) took=(%d+)ms$"
  local total = 0
  local errors = 0
  local per_user = {}
  for _, line in ipairs(lines) do
    local _, _, _, hour, _, _, level, user, _, took = string.match(line, pattern)
    total = total + tonumber(took) + tonumber(hour)
    if level == "ERROR" then errors = errors + 1 end
    per_user[user] = (per_user[user] or 0) + 1
  end
  print(total .. " " .. errors)
  local names = {}
  for name in pairs(per_user) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do print(name .. " " .. per_user[name]) end
  local block = table.concat(lines, "\n", 1, 30000)
  print(#(block:gsub("took=(%d+)ms", "%1 ms")))
end

main(300000)
