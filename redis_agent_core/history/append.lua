local ttl = check_ttl(tonumber(ARGV[2]))
local count = #ARGV - 4
local len = redis.call('RPUSH', KEYS[1], unpack(ARGV, 5))
local fresh = len == count  -- the list was empty
local maxlen = tonumber(ARGV[3])
if maxlen > 0 and len > maxlen then
  redis.call('LTRIM', KEYS[1], -maxlen, -1)
  len = drop_leading_results(KEYS[1], maxlen)
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
if seq == 0 then
  if fresh and redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('HSETNX', KEYS[2], 'created_at', ARGV[4])
  else  -- messages already there: the meta hash was evicted, created_at is unknown
    seq = renumber(count)  -- (stamped now, it would date the session from this message)
  end
end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[4])
if #KEYS >= 4 then
  local now = server_ms()
  local added = redis.call('ZADD', KEYS[4], now, ARGV[1])
  note_new_index(KEYS[4], KEYS[5], added)
  -- prune when a session joins the index (the only way it grows) and at every
  -- once every $PRUNE_EVERY messages of a session: bounded work, one call fewer a message
  if ttl > 0 and (added == 1 or (seq + count) % $PRUNE_EVERY < count) then
    prune_index(KEYS[4], now, ttl)
  end
end
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return {len, seq}
