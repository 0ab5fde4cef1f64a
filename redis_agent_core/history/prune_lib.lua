local function server_ms()  -- the index is scored on the server's clock: every writer's compare
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The session index holds one more member, '' (no session id is empty) at +inf: present,
-- the index is whole. A write that creates the index (its first member, ZADD returned 1)
-- adds it when the marker key is absent (a new namespace) and sets the marker; with the
-- marker there, the index was lost (evicted) and is left without it: sessions() then
-- raises, naming rebuild_sessions(), which adds it back.
local function note_new_index(index, marker, added)
  if added == 1 and redis.call('ZCARD', index) == 1 and redis.call('EXISTS', marker) == 0 then
    redis.call('ZADD', index, '+inf', '')
    redis.call('SET', marker, '1')
  end
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
