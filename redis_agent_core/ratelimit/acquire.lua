-- One rate-limit decision over several limits, atomically, on the server's clock.
-- All KEYS share one hash tag (one cluster slot). Nothing is consumed unless every
-- limit admits the call.
--
-- ARGV[1] "<apply> <request cost> <token cost>": apply "1" charges, "0" peeks (no
--         writes except dropping expired entries)
-- ARGV[2] the limits, 4 space-separated values each: kind limit period_us x
--   kind "r" request log         KEYS: list of admit times (us), newest first; x: TTL ms
--        "f" fixed-window tokens KEYS: hash {<window id> = used}, one field; x: the
--                                zone's UTC offset in us, then ",<offset>" when the
--                                window ends in another (a daylight-saving change)
--        "t" rolling tokens      KEYS: zset of "rid:tokens" by time, string total; x: TTL
-- ARGV[3] reservation id (only with rolling budgets)
-- (two strings rather than one argument per value: every argument costs ~0.5 us end to
-- end, parsing them here costs less)
-- Reply: one string of space-separated integers (one bulk reply parses much faster
-- client-side than an array): allowed, server seconds, microseconds, retry_us (-1:
-- never), denying limit (1-based, 0: none), then per limit: used before this call
-- (within the window), window id (fixed) or 0. The client derives `remaining`.
--
-- Request log: the list holds exactly the admits of the last `period`: stale entries
-- are trimmed from its tail first (entries are server TIME values pushed in script
-- order, so the list is sorted and the stale entries are a suffix, found by an
-- exponential then binary search: O(log n) LINDEX, one LTRIM, never a pop loop), so
-- its length is the exact count.
-- Admitted calls are the fast path: request logs and fixed windows are charged
-- optimistically (LPUSH / HINCRBY return the new count, no read first); the first
-- refusal undoes what was charged, and later limits are only read (to report the
-- longest retry). Rolling budgets are read first and charged once all limits admit.
-- Every redis.call and every number-to-string conversion costs ~0.5-1 us here: the
-- admitted path avoids tables, string.format and second passes.

local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local apply, creq, ctok = string.match(ARGV[1], '^(%d) (%d+) (%d+)$')
creq, ctok = tonumber(creq), tonumber(ctok)
local charging = apply == '1' -- every limit so far admitted and was charged
local spec = ARGV[2]
local pattern = '(%a) (%d+) (%d+) (%-?%d+),?(%-?%d*)'

-- take back what limits before `upto` charged (the first refusal)
local function undo(upto)
  local pos, key = 1, 1
  for _ = 1, upto - 1 do
    local _, last, kind, _, period, x = string.find(spec, pattern, pos)
    pos = last + 1
    if kind == 'r' then
      if creq > 0 then redis.call('LPOP', KEYS[key], creq) end
    elseif kind == 'f' then
      if ctok > 0 then
        local w = math.floor((now + tonumber(x)) / tonumber(period))
        redis.call('HINCRBY', KEYS[key], w, -ctok)
      end
    end
    if kind == 't' then key = key + 2 else key = key + 1 end
  end
end

local out = ''
local worst, denied, rolling = 0, 0, false
local k, pos, i = 1, 1, 0
while true do
  local _, last, kind, limit, period, x, xend = string.find(spec, pattern, pos)
  if not last then break end
  pos = last + 1
  i = i + 1
  limit, period = tonumber(limit), tonumber(period)
  local retry, u, w = 0, 0, '0'
  if kind == 'r' then
    local key = KEYS[k]
    k = k + 1
    local cut = now - period
    local e = redis.call('LINDEX', key, -1)
    if e and tonumber(e) <= cut then
      -- lo: entries known stale at the tail; hi: first position known fresh (or past
      -- the head: LINDEX answers nil)
      local lo, hi = 1, 2
      while true do
        local y = redis.call('LINDEX', key, -hi)
        if not y or tonumber(y) > cut then break end
        lo, hi = hi, hi * 2
      end
      while hi - lo > 1 do
        local mid = math.floor((lo + hi) / 2)
        local y = redis.call('LINDEX', key, -mid)
        if y and tonumber(y) <= cut then lo = mid else hi = mid end
      end
      redis.call('LTRIM', key, 0, -lo - 1)
    end
    if creq > limit then
      retry = -1
      u = redis.call('LLEN', key)
    elseif charging and creq > 0 then
      local n
      if creq == 1 then
        n = redis.call('LPUSH', key, now)
      else
        local entries = {}
        for c = 1, creq do entries[c] = now end
        for c = 1, creq, 5000 do
          n = redis.call('LPUSH', key, unpack(entries, c, math.min(c + 4999, creq)))
        end
      end
      u = n - creq
      if n > limit then
        redis.call('LPOP', key, creq)
      else
        -- the newest admit stays in the window for `period`: the key a second longer
        redis.call('PEXPIRE', key, x)
      end
    elseif e then
      u = redis.call('LLEN', key)
    end
    if retry == 0 and u + creq > limit then
      -- the (u + creq - limit)-th oldest admit must leave the window first
      retry = tonumber(redis.call('LINDEX', key, limit - u - creq)) + period - now
      if retry < 1 then retry = 1 end
    end
  elseif kind == 'f' then
    local key = KEYS[k]
    k = k + 1
    local offset = tonumber(x)
    w = math.floor((now + offset) / period)
    -- the window's end, in the offset it falls in (local midnight after a DST change)
    local ends = (w + 1) * period - (tonumber(xend) or offset)
    if ctok > limit then
      retry = -1
      u = tonumber(redis.call('HGET', key, w)) or 0
    elseif charging and ctok > 0 then
      -- the field is named by the window: a new field may be a new window
      local n = redis.call('HINCRBY', key, w, ctok)
      u = n - ctok
      if u == 0 then
        if redis.call('HLEN', key) > 1 then
          redis.call('DEL', key)
          redis.call('HSET', key, w, n)
        end
        -- expire a minute past the window's end so late settlements still find it
        redis.call('PEXPIRE', key, math.ceil((ends - now) / 1000) + 60000)
      end
      if n > limit then redis.call('HINCRBY', key, w, -ctok) end
    else
      local h = redis.call('HGET', key, w)
      if h then
        u = tonumber(h)
      elseif charging then
        -- a call reserving no tokens still opens the window, so that settling its real
        -- usage later finds it
        redis.call('DEL', key)
        redis.call('HSET', key, w, 0)
        redis.call('PEXPIRE', key, math.ceil((ends - now) / 1000) + 60000)
      end
    end
    if retry == 0 and u + ctok > limit then retry = ends - now end
  else -- 't': read here, charged after the loop once every limit admits
    rolling = true
    local zkey, tkey = KEYS[k], KEYS[k + 1]
    k = k + 2
    local cutoff = now - period
    local old = redis.call('ZRANGEBYSCORE', zkey, '-inf', cutoff)
    if #old > 0 then
      local freed = 0
      for _, m in ipairs(old) do freed = freed + tonumber(string.match(m, ':(%d+)$')) end
      redis.call('ZREMRANGEBYSCORE', zkey, '-inf', cutoff)
      u = redis.call('DECRBY', tkey, freed)
    else
      u = tonumber(redis.call('GET', tkey) or '0')
    end
    if u < 0 or redis.call('ZCARD', zkey) == 0 then
      -- self-heal: the total cannot outlive its entries
      u = 0
      redis.call('DEL', tkey)
    end
    if u + ctok > limit then
      if ctok > limit then
        retry = -1
      else
        local e = redis.call('ZRANGE', zkey, 0, -1, 'WITHSCORES')
        local left = u
        for j = 1, #e, 2 do
          left = left - tonumber(string.match(e[j], ':(%d+)$'))
          if left + ctok <= limit then
            retry = tonumber(e[j + 1]) + period - now
            break
          end
        end
        if retry < 1 then retry = 1 end
      end
    end
  end
  -- tostring() is exact below 1e14 (and writes '1e+14' past it): window ids and retry
  -- stay below it; a budget's usage can pass it (calls admitted while it had room
  -- settling 1e13 each), so it is reported capped: past any limit (1e13), nothing is left
  if u > 99999999999999 then u = 99999999999999 end
  out = out .. ' ' .. u .. ' ' .. w
  if retry ~= 0 then
    if charging then
      charging = false
      undo(i)
    end
    if worst ~= -1 and (retry == -1 or retry > worst) then
      worst = retry
      denied = i
    end
  end
end

if denied ~= 0 then return '0 ' .. t[1] .. ' ' .. t[2] .. ' ' .. worst .. ' ' .. denied .. out end
if charging and rolling then
  pos, k = 1, 1
  while true do
    local _, last, kind, _, _, x = string.find(spec, pattern, pos)
    if not last then break end
    pos = last + 1
    if kind == 't' then
      local zkey, tkey = KEYS[k], KEYS[k + 1]
      redis.call('ZADD', zkey, now, ARGV[3] .. ':' .. string.format('%d', ctok))
      redis.call('INCRBY', tkey, ctok)
      redis.call('PEXPIRE', zkey, x)
      redis.call('PEXPIRE', tkey, x)
      k = k + 2
    else
      k = k + 1
    end
  end
end
return '1 ' .. t[1] .. ' ' .. t[2] .. ' 0 0' .. out
