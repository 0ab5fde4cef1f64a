-- the keys share one TTL: read it from one that is left (the meta hash may be evicted
-- alone, and its missing PTTL read as "never expires")
local pttl = redis.call('PTTL', KEYS[2])
if pttl == -2 then pttl = redis.call('PTTL', KEYS[1]) end
if pttl == -2 then pttl = redis.call('PTTL', KEYS[3]) end
return {redis.call('HGETALL', KEYS[2]), redis.call('LLEN', KEYS[1]),
        redis.call('LLEN', KEYS[3]), pttl}
