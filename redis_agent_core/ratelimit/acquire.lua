-- One rate-limit decision over several limits, atomically, on the server's clock.
-- All KEYS share one hash tag (one cluster slot). Nothing is consumed unless every
-- limit admits the call.
--
-- ARGV[1] reservation id (unique per call), ARGV[2] "1" apply / "0" peek (no writes
-- except dropping expired entries), then 5 values per limit:
--   kind   "r" request sliding log      KEYS: zset of admit times
--          "f" fixed-window tokens      KEYS: hash {w = window id, u = used}
--          "t" rolling-window tokens    KEYS: zset of "rid:tokens" by time, string total
--   limit, period (us), cost, offset (us, fixed windows: the zone's UTC offset)
-- Reply: one string of space-separated integers (one bulk reply parses much faster
-- client-side than an array): allowed, now_us, retry_us (-1: never), denying limit
-- (1-based, 0: none), then per limit: remaining after this call, window id (fixed) or 0.
-- Numbers go to redis.call as Lua numbers: Redis converts them with 17 significant
-- digits, exact for these integers (tostring() keeps only 14: fine below 1e14).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local rid = ARGV[1]
local apply = ARGV[2] == '1'

local n = (#ARGV - 2) / 5
local kinds, limits, periods, costs, used, wins, keyidx = {}, {}, {}, {}, {}, {}, {}
local allowed, worst, denied = 1, 0, 0
local k = 1

for i = 1, n do
  local a = 2 + (i - 1) * 5
  local kind = ARGV[a + 1]
  local limit = tonumber(ARGV[a + 2])
  local period = tonumber(ARGV[a + 3])
  local cost = tonumber(ARGV[a + 4])
  local offset = tonumber(ARGV[a + 5])
  kinds[i], limits[i], periods[i], costs[i], keyidx[i], wins[i] = kind, limit, period, cost, k, 0
  local retry = 0
  if kind == 'r' then
    local key = KEYS[k]
    k = k + 1
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
    local u = redis.call('ZCARD', key)
    used[i] = u
    if u + cost > limit then
      if cost > limit then
        retry = -1
      else
        -- the (u + cost - limit)-th oldest admit must leave the window first
        local r = u + cost - limit - 1
        local e = redis.call('ZRANGE', key, r, r, 'WITHSCORES')
        retry = tonumber(e[2]) + period - now
        if retry < 1 then retry = 1 end
      end
    end
  elseif kind == 'f' then
    local key = KEYS[k]
    k = k + 1
    local w = math.floor((now + offset) / period)
    wins[i] = w
    local h = redis.call('HMGET', key, 'w', 'u')
    local u = 0
    if h[1] and tonumber(h[1]) == w then u = tonumber(h[2]) or 0 end
    used[i] = u
    if u + cost > limit then
      if cost > limit then retry = -1 else retry = (w + 1) * period - offset - now end
    end
  else -- 't'
    local zkey, tkey = KEYS[k], KEYS[k + 1]
    k = k + 2
    local cutoff = now - period
    local old = redis.call('ZRANGEBYSCORE', zkey, '-inf', cutoff)
    local u
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
    used[i] = u
    if u + cost > limit then
      if cost > limit then
        retry = -1
      else
        local e = redis.call('ZRANGE', zkey, 0, -1, 'WITHSCORES')
        local left = u
        for j = 1, #e, 2 do
          left = left - tonumber(string.match(e[j], ':(%d+)$'))
          if left + cost <= limit then
            retry = tonumber(e[j + 1]) + period - now
            break
          end
        end
        if retry < 1 then retry = 1 end
      end
    end
  end
  if retry ~= 0 then
    allowed = 0
    if worst ~= -1 and (retry == -1 or retry > worst) then
      worst = retry
      denied = i
    end
  end
end

-- tostring() is exact below 1e14 (remaining, window ids, retry); now needs %.0f
local reply = allowed .. ' ' .. string.format('%.0f', now) .. ' ' .. worst .. ' ' .. denied
for i = 1, n do
  local rem = limits[i] - used[i]
  if allowed == 1 then rem = rem - costs[i] end
  if rem < 0 then rem = 0 end
  reply = reply .. ' ' .. rem .. ' ' .. wins[i]
end
if allowed == 0 or not apply then return reply end

for i = 1, n do
  local kind, period, cost, j = kinds[i], periods[i], costs[i], keyidx[i]
  local ttl_ms = math.ceil(period / 1000) + 1000
  if kind == 'r' then
    local key = KEYS[j]
    if cost == 1 then
      redis.call('ZADD', key, now, rid)
    else
      for c = 1, cost do redis.call('ZADD', key, now, rid .. ':' .. c) end
    end
    redis.call('PEXPIRE', key, ttl_ms)
  elseif kind == 'f' then
    local key = KEYS[j]
    if used[i] == 0 then
      redis.call('HSET', key, 'w', wins[i], 'u', cost)
    else
      redis.call('HINCRBY', key, 'u', cost)
    end
    -- keep the hash a little past the window's end so late settlements still find it
    local left_ms = math.ceil(((wins[i] + 1) * period - tonumber(ARGV[2 + (i - 1) * 5 + 5]) - now) / 1000)
    redis.call('PEXPIRE', key, left_ms + 60000)
  else
    local zkey, tkey = KEYS[j], KEYS[j + 1]
    redis.call('ZADD', zkey, now, rid .. ':' .. string.format('%d', cost))
    redis.call('INCRBY', tkey, cost)
    redis.call('PEXPIRE', zkey, ttl_ms)
    redis.call('PEXPIRE', tkey, ttl_ms)
  end
end
return reply
