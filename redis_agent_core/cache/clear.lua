local left = tonumber(ARGV[2])
local removed = 0
for k = 3, #KEYS - 1 do
  local ds = redis.call('ZRANGE', KEYS[k], 0, left - 1)
  if #ds > 0 then
    local ks = {}
    for i, d in ipairs(ds) do ks[i] = ARGV[1] .. d end
    redis.call('UNLINK', unpack(ks))
    redis.call('ZREM', KEYS[k], unpack(ds))
    redis.call('HDEL', KEYS[1], unpack(ds))
    removed = removed + #ds
    left = left - #ds
    if left == 0 then return removed end
  end
end
if removed == 0 then redis.call('DEL', unpack(KEYS, 1, #KEYS - 1)) end
return removed
