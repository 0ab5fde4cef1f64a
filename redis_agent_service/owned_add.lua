-- A turn lists its session in the user's session listing. KEYS[1] the listing, KEYS[2]
-- its marker (same slot); ARGV[1] the session id, ARGV[2] its score (s), ARGV[3] the
-- ttl s (0: none). The listing holds one more member, '' (no session id is empty) at
-- +inf: present, the listing is whole. The turn that creates the listing adds it when the
-- marker is absent (the user's first session, or every earlier one expired: the marker
-- expires with the listing) and sets the marker; with the marker there, the listing was
-- lost (evicted) and is left without it: owned_list.lua then reports it.
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
if added == 1 and redis.call('ZCARD', KEYS[1]) == 1 and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('ZADD', KEYS[1], '+inf', '')
  redis.call('SET', KEYS[2], '1')
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then  -- in one script: both expire at the same instant
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
return added
