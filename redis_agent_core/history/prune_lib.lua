local function prune_below(index, cutoff)  -- cutoff: '(' .. the oldest score kept
  local gone = redis.call('ZRANGEBYSCORE', index, '-inf', cutoff, 'LIMIT', 0, $PRUNE_BATCH)
  if #gone > 0 then redis.call('ZREM', index, unpack(gone)) end
end
local function prune_index(index, now, ttl)
  if ttl > 0 then
    prune_below(index, '(' .. string.format('%d', tonumber(now) - ttl * 1000))
  end
end
