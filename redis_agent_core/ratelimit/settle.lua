-- Settle a reservation made by acquire.lua: charge the real usage instead of the
-- estimate (refund or extra charge), or take back request slots. All KEYS share the
-- reservation's hash tag.
--
-- ARGV[1] reservation id, then 4 values per item:
--   kind "r" (request slots: KEYS list; a = cost, b = admit time in us, spare =
--             period in us) to remove while still inside the window,
--        "f" (fixed window: KEYS hash {window id = used} + hash of the reservation ids
--             settled in that window; a = window id reserved in, b = delta tokens),
--        "t" (rolling: KEYS zset + total; a = estimate, b = actual tokens),
--   a, b, spare
-- A settlement whose window has closed (fixed) or whose entry has left the window
-- (rolling) is dropped: the budget it belonged to is over. A token settlement is
-- applied once per reservation: a retried settle (its reply lost) finds its id already
-- settled (fixed) or its entry already rewritten (rolling) and changes nothing.
-- Reply: one 1/0 per item, 1 when applied.

local function num(x) return string.format('%.0f', x) end

local rid = ARGV[1]
local now -- server time (us), read only to refund request slots
local n = (#ARGV - 1) / 4
local reply = {}
local k = 1

-- The first write: one Redis refuses when memory is full. It checks only a script's
-- first write, so a token settle (its first write a ZREM or an UNLINK, allowed on a
-- full server) was written past a full noeviction server. A settle of tokens declares
-- the slot guard last, a key never written: SET XX writes nothing. A refund of request
-- slots alone (LREM: it frees memory) still runs on a full server.
local declared = 0
for i = 1, n do
  if ARGV[(i - 1) * 4 + 2] == 'r' then declared = declared + 1 else declared = declared + 2 end
end
if #KEYS > declared then redis.call('SET', KEYS[#KEYS], '', 'XX') end
for i = 1, n do
  local a = 1 + (i - 1) * 4
  local kind, x, y = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local done = 0
  if kind == 'r' then
    local key = KEYS[k]
    k = k + 1
    -- the admit's entries are its server time (us); entries of another admit in the
    -- same microsecond are interchangeable with them. Stale entries may linger until
    -- the next acquire trims them: those are no longer slots to give back.
    if not now then
      local t = redis.call('TIME')
      now = t[1] * 1000000 + t[2]
    end
    if tonumber(ARGV[a + 3]) > now - tonumber(ARGV[a + 4]) then
      done = redis.call('LREM', key, x, ARGV[a + 3])
      if done > 0 then done = 1 end
    end
  elseif kind == 'f' then
    local key, skey = KEYS[k], KEYS[k + 1]
    k = k + 2
    -- the hash holds one field, named by the current window: the reservation's
    -- window is still open when its field exists
    local w = ARGV[a + 2]
    if redis.call('HEXISTS', key, w) == 1 then
      -- skey: {w = window, <rid> = 1...}, the ids settled in this window (~70 bytes
      -- each); a new window starts it afresh (UNLINK: a busy window's record is freed
      -- off the main thread), and it expires with the window's hash
      if redis.call('HGET', skey, 'w') ~= w then
        redis.call('UNLINK', skey)
        redis.call('HSET', skey, 'w', w)
        local ttl = redis.call('PTTL', key)
        if ttl > 0 then redis.call('PEXPIRE', skey, ttl) end
      end
      if redis.call('HSETNX', skey, rid, 1) == 1 then
        if y ~= 0 then
          local u = redis.call('HINCRBY', key, w, num(y))
          if u < 0 then redis.call('HSET', key, w, '0') end
        end
        done = 1
      end
    end
  else
    local zkey, tkey = KEYS[k], KEYS[k + 1]
    k = k + 2
    local old = rid .. ':' .. num(x)
    local score = redis.call('ZSCORE', zkey, old)
    if score then
      done = 1
      if x ~= y then
        redis.call('ZREM', zkey, old)
        redis.call('ZADD', zkey, score, rid .. ':' .. num(y))
        local total = redis.call('INCRBY', tkey, num(y - x))
        if total < 0 then redis.call('SET', tkey, '0', 'KEEPTTL') end
      end
    end
  end
  reply[#reply + 1] = done
end
return reply
