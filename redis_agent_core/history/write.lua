local now, ttl, maxlen = ARGV[1], check_ttl(tonumber(ARGV[2])), tonumber(ARGV[3])
local mode, target = ARGV[4], ARGV[5]
local nmeta, ndel = tonumber(ARGV[6]), tonumber(ARGV[7])
local key = KEYS[1]
if target == 'archived' then key = KEYS[3] end
local first = 9 + 2 * nmeta + ndel
local count = #ARGV - first + 1
-- 'extend': a replace, only when the list holds the start of the payloads (checked here,
-- with the write: a message appended since the caller last read would be lost)
if mode == 'extend' then
  local held = redis.call('LRANGE', key, 0, -1)
  if #held > count then return {-1, #held} end
  for i = 1, #held do
    if held[i] ~= ARGV[first + i - 1] then return {-1, #held} end
  end
  mode = 'replace'
end
-- no meta hash but messages: it was evicted, and created_at is unknown from now on
local lost = redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[1], KEYS[3]) > 0
-- first write: one Redis refuses when memory is full (it checks only a script's first
-- write, and a DEL first would let a replace write past a full noeviction server)
redis.call('HSET', KEYS[2], 'updated_at', now)
if mode == 'replace' then redis.call('DEL', key) end
local len
if count > 0 then len = push(key, first, #ARGV) else len = redis.call('LLEN', key) end
if maxlen > 0 and target == 'active' and len > maxlen then
  redis.call('LTRIM', key, -maxlen, -1)
  len = drop_leading_results(key, maxlen)
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
if lost then seq = renumber(count)  -- created_at stays unknown
elseif seq == 0 then redis.call('HSETNX', KEYS[2], 'created_at', now) end
for i = 9, 8 + 2 * nmeta, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = 9 + 2 * nmeta, 8 + 2 * nmeta + ndel do redis.call('HDEL', KEYS[2], ARGV[i]) end
if #KEYS >= 4 then
  local at = server_ms()
  note_new_index(KEYS[4], KEYS[5], redis.call('ZADD', KEYS[4], at, ARGV[8]))
  prune_index(KEYS[4], at, ttl)
end
expire_all(ttl)
return {len, seq}
