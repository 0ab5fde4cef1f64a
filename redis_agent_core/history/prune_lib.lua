local function prune_below(index, cutoff)  -- cutoff: '(' .. the oldest score kept
  local gone = redis.call('ZRANGEBYSCORE', index, '-inf', cutoff, 'LIMIT', 0, $PRUNE_BATCH)
  if #gone > 0 then redis.call('ZREM', index, unpack(gone)) end
end
local function prune_index(index, now, ttl)
  if ttl > 0 then
    prune_below(index, '(' .. string.format('%d', tonumber(now) - ttl * 1000))
  end
end
local function check_ttl(ttl)  -- before any write: a later error leaves earlier writes
  if not ttl or ttl < 0 or ttl > $MAX_TTL then error('history ttl out of range: ' .. tostring(ttl)) end
  return ttl
end
