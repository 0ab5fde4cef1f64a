-- Drop index entries of items whose TTL has passed.
-- KEYS[1] member index, KEYS[2] expiry index, KEYS[3] the slot guard (item keys are read
-- undeclared); ARGV[1] item key prefix, ARGV[2] now (ms).
-- An entry is dropped only when its item key is gone: a clock ahead of the server's,
-- or a refresh racing this script, never unindexes a live item.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[2], 'LIMIT', 0, 500)
local dropped = 0
for _, m in ipairs(due) do
  if redis.call('EXISTS', ARGV[1] .. m) == 0 then
    redis.call('ZREM', KEYS[1], m)
    redis.call('ZREM', KEYS[2], m)
    dropped = dropped + 1
  end
end
return dropped
