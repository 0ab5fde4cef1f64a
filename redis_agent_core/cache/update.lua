local ttl = tonumber(ARGV[2])
local now
local score = '+inf'
if ttl > 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  score = now + ttl
end
redis.call('ZADD', KEYS[2], score, ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
redis.call('HDEL', KEYS[3], ARGV[1])
-- Sweep the members (and hit counts) of expired entries. Only an entry written with a
-- TTL has a finite score, and +inf sorts last: when the lowest score is +inf (or the set
-- is empty), nothing can have expired, and the clock read and range scan are skipped (a
-- cache without TTLs, the default, never pays for them).
local function sweep(members)
  local first = redis.call('ZRANGE', members, 0, 0, 'WITHSCORES')
  if first[2] == nil or first[2] == 'inf' then return end
  if not now then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local gone = redis.call('ZRANGEBYSCORE', members, '-inf', '(' .. now, 'LIMIT', 0, 100)
  if #gone > 0 then
    redis.call('ZREM', members, unpack(gone))
    redis.call('HDEL', KEYS[3], unpack(gone))
  end
end
sweep(KEYS[2])
if KEYS[4] then
  -- the bucket's own set, when the entry's record is in a part of it: a record written
  -- there before the parts leaves it (an entry is never counted twice) or expires
  redis.call('ZREM', KEYS[4], ARGV[1])
  sweep(KEYS[4])
end
return 1
