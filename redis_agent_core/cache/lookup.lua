local v = redis.call('HMGET', KEYS[1], 'payload', 'usage', 'tokens')
if v[1] then
  local hits = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
  redis.call('HINCRBY', KEYS[2], 'hits', 1)
  local tokens = tonumber(v[3])
  if tokens and tokens > 0 then redis.call('HINCRBY', KEYS[2], 'tokens_saved', tokens) end
  return hits .. '\n' .. (v[2] or '') .. '\n' .. v[1]
end
if $COUNT_MISS then redis.call('HINCRBY', KEYS[2], 'misses', 1) end
return false
