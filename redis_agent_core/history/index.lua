-- The index update of a write on a cluster (the index lives in another slot than the
-- session): KEYS[1] the index, KEYS[2] its marker (same slot); ARGV session id, ttl s,
-- 'XX' (only a session still indexed) or ''.
local now = server_ms()
if ARGV[3] == 'XX' then
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
else
  note_new_index(KEYS[1], KEYS[2], redis.call('ZADD', KEYS[1], now, ARGV[1]))
end
prune_index(KEYS[1], now, tonumber(ARGV[2]))
return 0
