local state, done, failed, errors, results = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local mode, now, n = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('EXISTS', state) == 0 then return {-1, 0, ''} end
-- The item sets and the counts are written together: a set holding fewer items than its
-- count lost some (evicted by a maxmemory-policy that evicts). Counting a redelivered
-- item again would then report the job finished with items never run: refuse instead.
local counts = redis.call('HMGET', state, 'done', 'failed')
if redis.call('SCARD', done) < tonumber(counts[1] or 0)
    or redis.call('SCARD', failed) < tonumber(counts[2] or 0) then
  return {-2, 0, ''}
end
local has_values = #ARGV >= 3 + 2 * n
local added = 0
for i = 1, n do
  local id = ARGV[3 + i]
  if redis.call('SISMEMBER', done, id) == 0 and redis.call('SISMEMBER', failed, id) == 0 then
    added = added + 1
    if mode == 'done' then
      redis.call('SADD', done, id)
      if has_values then redis.call('HSETNX', results, id, ARGV[3 + n + i]) end
    else
      redis.call('SADD', failed, id)
      if has_values then redis.call('HSET', errors, id, ARGV[3 + n + i]) end
    end
  end
end
local d = tonumber(redis.call('HINCRBY', state, 'done', mode == 'done' and added or 0))
local f = tonumber(redis.call('HINCRBY', state, 'failed', mode == 'done' and 0 or added))
local total = tonumber(redis.call('HGET', state, 'total'))
local status = redis.call('HGET', state, 'status')
redis.call('HSETNX', state, 'started_at', now)
local finished = 0
if d + f >= total and status ~= 'succeeded' and status ~= 'partial' and status ~= 'failed' then
  if f == 0 then status = 'succeeded'
  elseif d == 0 then status = 'failed'
  else status = 'partial' end
  redis.call('HSET', state, 'status', status, 'finished_at', now)
  finished = 1
elseif status == 'pending' then
  status = 'running'
  redis.call('HSET', state, 'status', status)
end
local ttl = redis.call('PTTL', state)
if ttl > 0 then
  for _, k in ipairs({done, failed, errors, results}) do
    if redis.call('EXISTS', k) == 1 then redis.call('PEXPIRE', k, ttl) end
  end
end
return {added, finished, status}
