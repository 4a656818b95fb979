-- The call benchmark in Lua 5.4: N calls to each function of the C module callbench
-- (lua_callbench.c), minus an empty loop of N, in ns per call.  lua5.4 bench.lua N
local cb = require("callbench")
local now = cb.now

local function empty(n)
    local r = 0
    local t0 = now()
    for i = 0, n - 1 do r = i end
    return now() - t0
end

local function ints(f, n)
    local r = 0
    local t0 = now()
    for i = 0, n - 1 do r = f(i, 1) end
    return now() - t0
end

local function floats(f, n)
    local r, x = 0.0, 0.0
    local t0 = now()
    for i = 0, n - 1 do r = f(x, 1.5) end
    return now() - t0
end

local function strs(f, n)
    local r, s = 0, "hello, world"
    local t0 = now()
    for i = 0, n - 1 do r = f(s) end
    return now() - t0
end

local n = math.tointeger(tonumber(arg[1]))
assert(cb.add(2, 3) == 5 and cb.hypot(3, 4) == 5.0 and cb.count_bytes("hello, world") == 12)
local e = empty(n)
print(string.format("lua5.4\tadd\t%.3f", (ints(cb.add, n) - e) * 1e9 / n))
print(string.format("lua5.4\thypot\t%.3f", (floats(cb.hypot, n) - e) * 1e9 / n))
print(string.format("lua5.4\tstr\t%.3f", (strs(cb.count_bytes, n) - e) * 1e9 / n))
