-- A turn lists its session in its owner's list (OwnedSessions). KEYS[1] the list, KEYS[2]
-- its marker (same slot); ARGV[1] the stored session id, ARGV[2] its score (s), ARGV[3]
-- the ttl s (0: none), ARGV[4] '1' when the session held messages before this turn.
-- The list tells its loss as the session index does (lost_lib.lua). Besides: a session
-- that held messages joining the list (ZADD added it) was missing from it, and a whole
-- list misses no live session: the list was lost, with its marker too when this ZADD just
-- made it (both evicted: the owner would look new). It is left without '' and marked,
-- so the next read rebuilds it.
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if added == 1 and ARGV[4] == '1' then
  redis.call('ZREM', KEYS[1], '')
  redis.call('SET', KEYS[2], '1')
else
  note_new_index(KEYS[1], KEYS[2], added)
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then  -- in one script: both expire at the same instant
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return added
