-- KEYS: stats, hits, entry[, its member set[, the bucket's own set]] (the sets on a hit).
-- ARGV: digest ('' on a miss), then counter, increment, ...
-- -> the entry's hit count (0 on a miss, -1 for an orphan: a miss, see lookup.lua)
local hits = 0
local orphan = false
if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[3]) == 1 then
  if is_member(4, ARGV[1]) then
    hits = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
  else
    redis.call('UNLINK', KEYS[3])
    redis.call('HDEL', KEYS[2], ARGV[1])
    redis.call('HINCRBY', KEYS[1], 'misses', 1)
    orphan = true
    hits = -1
  end
end
for i = 2, #ARGV, 2 do
  if not (orphan and (ARGV[i] == 'hits' or ARGV[i] == 'tokens_saved')) then
    redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return hits
