-- Whether digest d has a member record in KEYS[first] (the entry's member set) or
-- KEYS[first + 1] when given (the bucket's own set, where the semantic cache's records
-- written before its parts are). One ZSCORE on a hit, a second only for an old record.
local function is_member(first, d)
  if redis.call('ZSCORE', KEYS[first], d) then return true end
  return KEYS[first + 1] ~= nil and redis.call('ZSCORE', KEYS[first + 1], d) ~= false
end
