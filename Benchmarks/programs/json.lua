-- A char-by-char JSON parser (recursive descent, one `string.sub(s, i, i)` per character) over
-- a generated text of about 140 KB with non-ASCII strings ("café", "Zürich", "東京", "😀" …).
-- Prints the text's length in characters, then counts and sums over the parsed values.
-- Lua strings are bytes: a non-ASCII character is read as its UTF-8 bytes, which never
-- equal an ASCII delimiter, so the same parse gives the same values.
local Parser = {}
Parser.__index = Parser

function Parser.new(text)
  return setmetatable({ s = text, pos = 1, n = #text }, Parser)
end

function Parser:skip()
  local s = self.s
  local i = self.pos
  while i <= self.n do
    local c = string.sub(s, i, i)
    if c ~= " " and c ~= "\n" and c ~= "\t" and c ~= "\r" then break end
    i = i + 1
  end
  self.pos = i
end

function Parser:value()
  self:skip()
  local c = string.sub(self.s, self.pos, self.pos)
  if c == "{" then return self:object() end
  if c == "[" then return self:array() end
  if c == "\"" then return self:string() end
  if c == "t" then self.pos = self.pos + 4; return true end
  if c == "f" then self.pos = self.pos + 5; return false end
  if c == "n" then self.pos = self.pos + 4; return nil end
  return self:number()
end

function Parser:object()
  local m = {}
  self.pos = self.pos + 1
  self:skip()
  if string.sub(self.s, self.pos, self.pos) == "}" then self.pos = self.pos + 1; return m end
  while true do
    self:skip()
    local k = self:string()
    self:skip()
    self.pos = self.pos + 1
    m[k] = self:value()
    self:skip()
    local c = string.sub(self.s, self.pos, self.pos)
    self.pos = self.pos + 1
    if c == "}" then return m end
  end
end

function Parser:array()
  local l = {}
  self.pos = self.pos + 1
  self:skip()
  if string.sub(self.s, self.pos, self.pos) == "]" then self.pos = self.pos + 1; return l end
  while true do
    l[#l + 1] = self:value()
    self:skip()
    local c = string.sub(self.s, self.pos, self.pos)
    self.pos = self.pos + 1
    if c == "]" then return l end
  end
end

function Parser:string()
  local s = self.s
  local start = self.pos + 1
  local i = start
  while string.sub(s, i, i) ~= "\"" do i = i + 1 end
  self.pos = i + 1
  return string.sub(s, start, i - 1)
end

function Parser:number()
  local s = self.s
  local i = self.pos
  local neg = false
  if string.sub(s, i, i) == "-" then neg = true; i = i + 1 end
  local v = 0
  while i <= self.n do
    local c = string.sub(s, i, i)
    if c < "0" or c > "9" then break end
    v = v * 10 + (string.byte(c) - 48)
    i = i + 1
  end
  self.pos = i
  if neg then return -v end
  return v
end

local function generate(records)
  local names = { "café", "Zürich", "naïve", "東京", "smörgåsbord", "😀 party", "plain", "ascii text" }
  local parts = { "[" }
  for i = 0, records - 1 do
    if i > 0 then parts[#parts + 1] = ",\n" end
    local name = names[i % 8 + 1]
    parts[#parts + 1] = "{\"id\": " .. i .. ", \"name\": \"" .. name .. " " .. i .. "\", \"score\": " .. (i * 37 % 1000 - 500) .. ", "
    parts[#parts + 1] = "\"tags\": [\"" .. names[(i + 3) % 8 + 1] .. "\", \"x\", \"" .. names[(i * 5) % 8 + 1] .. "\"], "
    parts[#parts + 1] = "\"ok\": " .. tostring(i % 3 == 0) .. ", \"extra\": {\"a\": [1, 2, " .. (i % 10) .. "], \"b\": null}}"
  end
  parts[#parts + 1] = "]\n"
  return table.concat(parts)
end

local function main(records, rounds)
  local text = generate(records)
  print(utf8.len(text))
  local count, sum, tagged, last = 0, 0, 0, ""
  for _ = 1, rounds do
    local data = Parser.new(text):value()
    for _, rec in ipairs(data) do
      count = count + 1
      sum = sum + rec["score"] + rec["extra"]["a"][3]
      if rec["tags"][1] == "café" then tagged = tagged + 1 end
      if rec["ok"] then sum = sum + 1 end
      last = rec["name"]
    end
  end
  print(count .. " " .. sum .. " " .. tagged .. " " .. last)
end

main(1000, 40)
