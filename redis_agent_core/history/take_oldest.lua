local ttl = check_ttl(tonumber(ARGV[4]))
local n = tonumber(ARGV[1])
local items = redis.call('LRANGE', KEYS[1], 0, n - 1)
if #items == 0 then return items end
if ARGV[2] == '1' then  -- archiving adds data: refused when full (see _WRITE)
  redis.call('HSET', KEYS[2], 'updated_at', ARGV[3])
end
redis.call('LTRIM', KEYS[1], n, -1)
if ARGV[2] == '1' then
  for i = 1, #items, 4000 do
    redis.call('RPUSH', KEYS[3], unpack(items, i, math.min(i + 3999, #items)))
  end
end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[3])
if #KEYS == 4 then
  local at = server_ms()
  redis.call('ZADD', KEYS[4], 'XX', at, ARGV[5])
  prune_index(KEYS[4], at, ttl)
end
expire_all(ttl)
return items
