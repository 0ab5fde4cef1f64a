local v = redis.call('HGETALL', KEYS[1])
if #v == 0 then return 0 end
redis.call('HSET', KEYS[2], unpack(v))
return #v / 2
