-- Store node cache entries of one namespace and index them by expiry on this server's
-- clock, which also expires them (a writer's clock may differ: indexed by a clock behind,
-- an entry was pruned from the index while Redis kept it, and clear() missed it).
-- KEYS[1] the namespace's index, KEYS[2..] the entries; ARGV: member, value, TTL in ms
-- (0: none) of each entry, in KEYS order.
-- The index's type is checked before the first SET: met by the ZADD after them, a key of
-- another type (WRONGTYPE: another application writing there) left the entries before it
-- written but unindexed, out of clear() and, without a TTL, kept for good.
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'none' and kind ~= 'zset' then
  return redis.error_reply('WRONGTYPE the node cache index ' .. KEYS[1] .. ' holds a ' ..
    kind .. ', not a zset; nothing was written')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #KEYS do
  local a = 3 * (i - 2)
  local ttl = tonumber(ARGV[a + 3])
  if ttl > 0 then
    redis.call('SET', KEYS[i], ARGV[a + 2], 'PX', ttl)
    redis.call('ZADD', KEYS[1], string.format('%d', now + ttl), ARGV[a + 1])
  else
    redis.call('SET', KEYS[i], ARGV[a + 2])
    redis.call('ZADD', KEYS[1], '+inf', ARGV[a + 1])
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', now))
return 0
