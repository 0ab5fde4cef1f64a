if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
-- the record first: the one write Redis refuses when memory is full (it checks only a
-- script's first write: after the DEL, the record was written past a full server)
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
