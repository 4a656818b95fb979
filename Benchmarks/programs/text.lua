-- Text processing with string methods: split a generated text into lines, trim each, split
-- it into fields and a field into parts, find, contains, starts_with, replace, then join the
-- lines back. The text mixes ASCII and non-ASCII ("café", "Zürich", "東京").
-- Prints the text's length in characters, then counts over all rounds.
-- Lua has no split, trim, starts_with or plain replace: the helpers below are the usual
-- idioms (string.find with plain = true, a %S pattern, string.sub). "name=" comes before any
-- non-ASCII byte of a line, so its byte index equals its character index.
local function split(s, sep)
  local parts, start, n = {}, 1, #sep
  while true do
    local i = string.find(s, sep, start, true)
    if not i then break end
    parts[#parts + 1] = string.sub(s, start, i - 1)
    start = i + n
  end
  parts[#parts + 1] = string.sub(s, start)
  return parts
end

local function trim(s)
  return string.match(s, "^%s*(.*%S)") or ""
end

local function replace(s, old, new)
  local parts = split(s, old)
  return table.concat(parts, new)
end

local function generate(lines)
  local cities = { "Zürich", "Paris", "東京", "Lima", "São Paulo", "Oslo" }
  local parts = {}
  for i = 0, lines - 1 do
    parts[#parts + 1] = "  id=" .. i .. ", name=user " .. (i % 97) .. ", city=" .. cities[i % 6 + 1]
      .. ", tags=a;b" .. (i % 5) .. ";café;c, note=the quick brown fox jumps " .. (i % 7) .. "  "
  end
  return table.concat(parts, "\n")
end

local function main(lines, rounds)
  local text = generate(lines)
  print(utf8.len(text))
  local fields, tags, hits, found, total = 0, 0, 0, 0, 0
  for _ = 1, rounds do
    local out = {}
    for _, line in ipairs(split(text, "\n")) do
      local t = trim(line)
      for _, f in ipairs(split(t, ", ")) do
        local kv = split(f, "=")
        fields = fields + 1
        if kv[1] == "tags" then tags = tags + #split(kv[2], ";") end
      end
      if string.find(t, "Zürich", 1, true) then hits = hits + 1 end
      found = found + (string.find(t, "name=", 1, true) - 1)
      local changed = replace(replace(t, "fox", "dog"), ";", "|")
      if string.sub(changed, 1, 3) == "id=" and string.sub(changed, -1) == "3" then hits = hits + 1 end
      out[#out + 1] = changed
    end
    total = total + utf8.len(table.concat(out, "\n"))
  end
  print(fields .. " " .. tags .. " " .. hits .. " " .. found .. " " .. total)
end

main(20000, 4)
