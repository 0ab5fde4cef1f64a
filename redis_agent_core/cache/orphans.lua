-- Drop a bucket's orphans: entries with no member record (an evicting maxmemory-policy
-- evicted their member set, so clear() and stats() cannot see them). KEYS[1] the
-- bucket's hit counts, KEYS[2 .. n + 1] its member sets (ARGV[1] = n), then one entry
-- key per digest; ARGV[2 ..] (digest, the KEYS index of its own member set), ...
-- An entry with a record in its own set or the bucket's (KEYS[2]) stays: one written
-- since the SCAN that found it is a member again. -> entries dropped
local n = tonumber(ARGV[1])
local dropped = 0
local e = n + 1
for i = 2, #ARGV, 2 do
  local d = ARGV[i]
  e = e + 1
  if not redis.call('ZSCORE', KEYS[2], d) and not redis.call('ZSCORE', KEYS[tonumber(ARGV[i + 1])], d) then
    dropped = dropped + redis.call('UNLINK', KEYS[e])
    redis.call('HDEL', KEYS[1], d)
  end
end
return dropped
