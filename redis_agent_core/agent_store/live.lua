-- First member in [ARGV[2], ARGV[3]] whose item (ARGV[1] .. member) exists; gone ones unindexed.
-- KEYS: member index, expiry index, the slot guard (item keys are read undeclared).
-- Returns the member, 0 (none), 1 (call again).
for _ = 1, $MAX_DROPPED do
  local m = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[2], ARGV[3], 'LIMIT', 0, 1)[1]
  if not m then
    return 0
  end
  if redis.call('EXISTS', ARGV[1] .. m) == 1 then
    return m
  end
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
end
return 1
