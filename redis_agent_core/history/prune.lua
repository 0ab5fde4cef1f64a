-- Every session idle longer than ARGV[1] s (0: none), on the server's clock (a listing).
local ttl = tonumber(ARGV[1])
if ttl > 0 then
  local cutoff = '(' .. string.format('%d', server_ms() - ttl * 1000)
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
end
return 0
