-- A tiny cooperative scheduler with Go-style channels, so the Lua side of the concurrency
-- benchmarks runs the same algorithms as the Capsule, Go, Python and Node sides. Lua has
-- coroutines but no scheduler or channels; this is the smallest thing that gives both.
--
--   local sched = require("sched")
--   sched.run(function()
--     local ch = sched.chan()          -- unbuffered; sched.chan(64) buffered
--     sched.spawn(function() ch:send(1); ch:close() end)
--     print(ch:recv())                 -- 1, true; after close and drain: nil, false
--   end)
--
-- Semantics follow Go's: a send on an unbuffered channel hands the value straight to a
-- waiting receiver, or waits until one comes; a buffered channel waits only when full.
-- A woken task goes to the back of one FIFO run queue. Queues are tables with head and tail
-- indices (not table.remove, which shifts every element).

local M = {}

local create, resume, yield, running = coroutine.create, coroutine.resume, coroutine.yield, coroutine.running

local ready, ready_head, ready_tail = {}, 1, 0

local function wake(co)
  ready_tail = ready_tail + 1
  ready[ready_tail] = co
end

-- Starts f(...) as a task; it first runs when the scheduler reaches it, as a goroutine does.
function M.spawn(f, ...)
  local co
  if select("#", ...) == 0 then
    co = create(f)
  else
    local args = table.pack(...)
    co = create(function() return f(table.unpack(args, 1, args.n)) end)
  end
  wake(co)
  return co
end

-- Runs f as the first task and returns when no task is ready (all done, or all blocked).
function M.run(f, ...)
  M.spawn(f, ...)
  while ready_head <= ready_tail do
    local co = ready[ready_head]
    ready[ready_head] = nil
    ready_head = ready_head + 1
    if ready_head > ready_tail then
      -- Empty: start the indices over so the table stays a small array.
      ready_head, ready_tail = 1, 0
    end
    local ok, err = resume(co)
    if not ok then error(err, 0) end
  end
end

local Chan = {}
Chan.__index = Chan

function M.chan(cap)
  return setmetatable({
    cap = cap or 0, closed = false,
    buf = {}, bh = 1, bt = 0,       -- buffered values
    rq = {}, rh = 1, rt = 0,        -- waiting receivers: {co, value, ok, done, ch}
    sq = {}, sh = 1, st = 0,        -- waiting senders: {co, value}
  }, Chan)
end

-- The next receiver still waiting. A receiver blocked in select waits on several channels
-- with one record; once one channel has served it (done), the others skip it.
local function pop_receiver(ch)
  local rq = ch.rq
  while ch.rh <= ch.rt do
    local r = rq[ch.rh]
    rq[ch.rh] = nil
    ch.rh = ch.rh + 1
    if ch.rh > ch.rt then ch.rh, ch.rt = 1, 0 end
    if not r.done then return r end
  end
  return nil
end

local function pop_sender(ch)
  if ch.sh > ch.st then return nil end
  local s = ch.sq[ch.sh]
  ch.sq[ch.sh] = nil
  ch.sh = ch.sh + 1
  if ch.sh > ch.st then ch.sh, ch.st = 1, 0 end
  return s
end

function Chan:send(v)
  if self.closed then error("send on a closed channel", 2) end
  local r = pop_receiver(self)
  if r then
    r.value, r.ok, r.done, r.ch = v, true, true, self
    wake(r.co)
    return
  end
  if self.bt - self.bh + 1 < self.cap then
    self.bt = self.bt + 1
    self.buf[self.bt] = v
    return
  end
  self.st = self.st + 1
  self.sq[self.st] = { co = running(), value = v }
  yield()
end

-- Whether a recv would return at once (a value, a waiting sender, or closed).
local function recv_ready(ch)
  return ch.bt >= ch.bh or ch.sh <= ch.st or ch.closed
end

-- Returns value, true; or nil, false once the channel is closed and drained.
function Chan:recv()
  if self.bt >= self.bh then
    local buf = self.buf
    local v = buf[self.bh]
    buf[self.bh] = nil
    self.bh = self.bh + 1
    -- A sender waiting on a full buffer moves its value in and goes on.
    local s = pop_sender(self)
    if s then
      self.bt = self.bt + 1
      buf[self.bt] = s.value
      wake(s.co)
    elseif self.bh > self.bt then
      self.bh, self.bt = 1, 0
    end
    return v, true
  end
  local s = pop_sender(self)
  if s then
    wake(s.co)
    return s.value, true
  end
  if self.closed then return nil, false end
  local w = { co = running() }
  self.rt = self.rt + 1
  self.rq[self.rt] = w
  yield()
  return w.value, w.ok
end

function Chan:close()
  self.closed = true
  local r = pop_receiver(self)
  while r do
    r.value, r.ok, r.done, r.ch = nil, false, true, self
    wake(r.co)
    r = pop_receiver(self)
  end
end

-- select over receives: waits until one of chans[1..n] can be received from and returns
-- its index, the value and ok (false: that channel is closed and drained). The polling
-- order rotates from call to call so no channel is always first (Go picks at random).
local rotate = 0
function M.select_recv(chans, n)
  rotate = rotate % n + 1
  for k = 0, n - 1 do
    local i = (rotate + k - 1) % n + 1
    local ch = chans[i]
    if recv_ready(ch) then
      local v, ok = ch:recv()
      return i, v, ok
    end
  end
  local w = { co = running() }
  for i = 1, n do
    local ch = chans[i]
    ch.rt = ch.rt + 1
    ch.rq[ch.rt] = w
  end
  yield()
  for i = 1, n do
    if chans[i] == w.ch then return i, w.value, w.ok end
  end
end

return M
