-- Every put and delete of one ItemStore.put, all or nothing.
-- KEYS[1] member index, KEYS[2] expiry index, KEYS[3] the slot guard (item and vector
-- keys are written undeclared: they share the store's hash tag).
-- ARGV[1] item key prefix, ARGV[2] vector key prefix, ARGV[3] now (ms), then per put:
-- member, '1' put / '0' delete, value JSON, TTL in ms ('' none), vector count, TAG of
-- the namespace prefixes, then that many FLOAT32 vectors.
-- Field names are records.py's (v value, c created, u updated, t TTL, n vector count) and
-- semantic.py's (p prefixes, vector).
-- Every key's type is checked before the first write: a command meeting a key of
-- another type (WRONGTYPE: another application writing there) failed alone inside the
-- MULTI/EXEC this replaced, and the others were written (an index member naming a key
-- that is no item, an item no listing found).
local now = tonumber(ARGV[3])
local puts = {}
local i = 4
while i <= #ARGV do
  local p = {m = ARGV[i], put = ARGV[i + 1] == '1', value = ARGV[i + 2], ttl = ARGV[i + 3],
    n = tonumber(ARGV[i + 4]), tags = ARGV[i + 5], first = i + 6}
  puts[#puts + 1] = p
  i = p.first + p.n
end

local function wrong(key, want)
  local kind = redis.call('TYPE', key)['ok']
  if kind ~= 'none' and kind ~= want then
    return 'WRONGTYPE the agent store key ' .. key .. ' holds a ' .. kind .. ', not a ' ..
      want .. '; nothing of the put was written'
  end
end

local bad = wrong(KEYS[1], 'zset') or wrong(KEYS[2], 'zset')
for _, p in ipairs(puts) do
  bad = bad or wrong(ARGV[1] .. p.m, 'hash')
  for j = 0, p.n - 1 do
    bad = bad or wrong(ARGV[2] .. p.m .. '\29' .. j, 'hash')
  end
end
if bad then
  return redis.error_reply(bad)
end

-- The first write: one Redis refuses when memory is full. It checks only a script's
-- first write, so a put after a delete (DEL, ZREM: allowed on a full server, they free
-- memory) was written past a full noeviction server. SET XX of the slot guard, a key
-- never written, writes nothing; a put of deletes only still runs on a full server.
for _, p in ipairs(puts) do
  if p.put then
    redis.call('SET', KEYS[3], '', 'XX')
    break
  end
end

for _, p in ipairs(puts) do
  local key = ARGV[1] .. p.m
  local vprefix = ARGV[2] .. p.m .. '\29'
  -- before the item's count changes: drop the vectors it no longer has
  local old = tonumber(redis.call('HGET', key, 'n') or '0')
  for j = p.n, old - 1 do
    redis.call('DEL', vprefix .. j)
  end
  if not p.put then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], p.m)
    redis.call('ZREM', KEYS[2], p.m)
  else
    redis.call('HSETNX', key, 'c', ARGV[3])
    if p.ttl ~= '' then
      redis.call('HSET', key, 'v', p.value, 'u', ARGV[3], 't', p.ttl)
    else
      redis.call('HSET', key, 'v', p.value, 'u', ARGV[3])
    end
    redis.call('ZADD', KEYS[1], 0, p.m)
    if p.n > 0 then
      redis.call('HSET', key, 'n', p.n)
    else
      redis.call('HDEL', key, 'n')
    end
    for j = 0, p.n - 1 do
      local vkey = vprefix .. j
      redis.call('HSET', vkey, 'p', p.tags, 'vector', ARGV[p.first + j])
      if p.ttl == '' then
        redis.call('PERSIST', vkey)
      else
        redis.call('PEXPIRE', vkey, p.ttl)
      end
    end
    if p.ttl == '' then
      redis.call('HDEL', key, 't')
      redis.call('PERSIST', key)
      redis.call('ZREM', KEYS[2], p.m)
    else
      redis.call('PEXPIRE', key, p.ttl)
      redis.call('ZADD', KEYS[2], string.format('%d', now + tonumber(p.ttl)), p.m)
    end
  end
end
return 0
