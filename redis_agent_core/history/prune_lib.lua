local function server_ms()  -- the index is scored on the server's clock: every writer's compare
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function prune_index(index, now, ttl)  -- drop (at most a batch of) sessions idle > ttl s
  if ttl > 0 then
    local cutoff = '(' .. string.format('%d', now - ttl * 1000)
    local gone = redis.call('ZRANGEBYSCORE', index, '-inf', cutoff, 'LIMIT', 0, $PRUNE_BATCH)
    if #gone > 0 then redis.call('ZREM', index, unpack(gone)) end
  end
end
local function check_ttl(ttl)  -- before any write: a later error leaves earlier writes
  if not ttl or ttl < 0 or ttl > $MAX_TTL then error('history ttl out of range: ' .. tostring(ttl)) end
  return ttl
end
