local n = 0
for i = 1, #KEYS do n = n + redis.call('ZCOUNT', KEYS[i], ARGV[1], '+inf') end
return n
