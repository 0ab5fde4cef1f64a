local ds = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if #ds == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 0
end
local ks = {}
for i, d in ipairs(ds) do ks[i] = ARGV[1] .. d end
redis.call('UNLINK', unpack(ks))
redis.call('ZREM', KEYS[1], unpack(ds))
redis.call('HDEL', KEYS[2], unpack(ds))
return #ds
