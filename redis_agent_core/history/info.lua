return {redis.call('HGETALL', KEYS[2]), redis.call('LLEN', KEYS[1]),
        redis.call('LLEN', KEYS[3]), redis.call('PTTL', KEYS[2])}
