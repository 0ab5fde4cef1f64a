-- The newest ARGV[1] session ids of a user's listing (KEYS[1]; KEYS[2] its marker).
-- Returns {0, ids...}, or {1} when the listing was lost (no '' member while the marker
-- is there: owned_add.lua).
if not redis.call('ZSCORE', KEYS[1], '') then
  if redis.call('EXISTS', KEYS[2]) == 1 then
    return { 1 }
  end
  if redis.call('EXISTS', KEYS[1]) == 0 then
    return { 0 }  -- no session yet (or all expired)
  end
  -- a listing written before the marker existed (an upgrade): taken as whole
  redis.call('ZADD', KEYS[1], '+inf', '')
  redis.call('SET', KEYS[2], '1')
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl > 0 then redis.call('PEXPIRE', KEYS[2], pttl) end
end
local found = redis.call('ZRANGE', KEYS[1], 1, tonumber(ARGV[1]), 'REV')  -- '' is rank 0
table.insert(found, 1, 0)
return found
