-- Put sessions back into a lost owner's list (KEYS[1]; KEYS[2] its marker). ARGV[1] the ttl s
-- (0: none), ARGV[2] '1' on the last batch (marks the listing whole), then score, id
-- pairs (GT: an entry a turn refreshed since keeps its newer score).
for i = 3, #ARGV, 2 do
  redis.call('ZADD', KEYS[1], 'GT', ARGV[i], ARGV[i + 1])
end
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[1], '+inf', '')
  redis.call('SET', KEYS[2], '1')
  local ttl = tonumber(ARGV[1])
  if ttl > 0 then
    redis.call('EXPIRE', KEYS[1], ttl)
    redis.call('EXPIRE', KEYS[2], ttl)
  end
end
return 0
