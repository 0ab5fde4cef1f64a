-- Settle a reservation made by acquire.lua: charge the real usage instead of the
-- estimate (refund or extra charge), or take back request slots. All KEYS share the
-- reservation's hash tag.
--
-- ARGV[1] reservation id, then 4 values per item:
--   kind "r" (request slots: KEYS zset; a = cost, b = unused) to remove,
--        "f" (fixed window: KEYS hash; a = window id reserved in, b = delta tokens),
--        "t" (rolling: KEYS zset + total; a = estimate, b = actual tokens),
--   a, b, spare
-- A settlement whose window has closed (fixed) or whose entry has left the window
-- (rolling) is dropped: the budget it belonged to is over.
-- Reply: one 1/0 per item, 1 when applied.

local function num(x) return string.format('%.0f', x) end

local rid = ARGV[1]
local n = (#ARGV - 1) / 4
local reply = {}
local k = 1
for i = 1, n do
  local a = 1 + (i - 1) * 4
  local kind, x, y = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local done = 0
  if kind == 'r' then
    local key = KEYS[k]
    k = k + 1
    if x == 1 then
      done = redis.call('ZREM', key, rid)
    else
      for c = 1, x do done = done + redis.call('ZREM', key, rid .. ':' .. c) end
    end
    if done > 0 then done = 1 end
  elseif kind == 'f' then
    local key = KEYS[k]
    k = k + 1
    local w = redis.call('HGET', key, 'w')
    if w and tonumber(w) == x and y ~= 0 then
      local u = redis.call('HINCRBY', key, 'u', num(y))
      if u < 0 then redis.call('HSET', key, 'u', '0') end
      done = 1
    elseif w and tonumber(w) == x then
      done = 1
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
