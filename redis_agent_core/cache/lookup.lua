local v = redis.call('HMGET', KEYS[1], 'payload', 'usage', 'tokens'$PACKED)
local payload, usage, tokens = v[1], v[2], v[3]
if v[4] then
  -- a semantic entry's packed field: "<payload size> <tokens>\n<usage>\n<features>\n<prompt><payload>"
  local packed = v[4]
  local eol = string.find(packed, '\n', 1, true)
  local size
  size, tokens = string.match(string.sub(packed, 1, eol - 1), '^(%d+) (%d+)$$')
  usage = string.sub(packed, eol + 1, string.find(packed, '\n', eol + 1, true) - 1)
  payload = string.sub(packed, #packed - tonumber(size) + 1)
end
if payload and not is_member(4, ARGV[1]) then
  -- an orphan: its member record is gone (an evicting maxmemory-policy evicted the set),
  -- so clear() and stats() cannot see it. Not served, and dropped so it never is.
  redis.call('UNLINK', KEYS[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  payload = nil
end
if payload then
  local hits = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
  redis.call('HINCRBY', KEYS[2], 'hits', 1)
  tokens = tonumber(tokens)
  if tokens and tokens > 0 then redis.call('HINCRBY', KEYS[2], 'tokens_saved', tokens) end
  return hits .. '\n' .. (usage or '') .. '\n' .. payload
end
if $COUNT_MISS then redis.call('HINCRBY', KEYS[2], 'misses', 1) end
return false
