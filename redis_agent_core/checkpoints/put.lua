-- Save one checkpoint (its record, new channel values, head, index entry, expiries) in
-- one step, only while its parent is still on the thread: a run that went on after its
-- thread was deleted (or expired) wrote a new thread under the same id whose next
-- checkpoints referenced values saved before the delete (DataCorruptionError on read).
-- KEYS[1] the record (shallow: the namespace's hash), KEYS[2] the index, KEYS[3] the
-- writes set (note_unindexed.lua), KEYS[4] the namespace set, KEYS[5] the parent's record
-- (shallow: KEYS[1]); full saver: KEYS[6] the value hash, KEYS[7] the head.
-- ARGV[1] the parent's index member ('': no parent, a thread's first checkpoint),
-- ARGV[2] the TTL in seconds ('': none), ARGV[3] the checkpoint's id, ARGV[4] its index
-- member, ARGV[5] the namespace, ARGV[6] / ARGV[7] the namespace's lex range (shallow:
-- its older entries are dropped; '' for the full saver), ARGV[8] the count n of record
-- arguments, then n arguments (field, value...), then the count m of head arguments, m
-- arguments, then the value hash's (field, value...) to the end.
-- Returns 0 when saved, 1 when the parent is gone and not indexed (deleted or expired:
-- nothing written), 2 when the index still lists the parent but its record is gone
-- (evicted: nothing written).
local parent = ARGV[1]
if parent ~= '' and redis.call('HEXISTS', KEYS[5], '$ID_FIELD') == 0 then
  if redis.call('ZSCORE', KEYS[2], parent) then
    return 2
  end
  return 1
end

local n = tonumber(ARGV[8])
local record, fresh = {}, {}
for i = 9, 8 + n, 2 do
  record[#record + 1] = ARGV[i]
  record[#record + 1] = ARGV[i + 1]
  fresh[ARGV[i]] = true
end
local at = 9 + n
local m = tonumber(ARGV[at])
local shallow = ARGV[6] ~= ''
-- a denyoom write first: over maxmemory the script stops here, having written nothing
for i = 1, #record, 1000 do
  redis.call('HSET', KEYS[1], unpack(record, i, math.min(i + 999, #record)))
end
if shallow then
  -- one hash per namespace, replaced whole: old values and writes go, but writes saved
  -- early for this checkpoint or a later one stay (durability="async")
  shallow_clear(KEYS[1], ARGV[3], fresh)
  redis.call('ZREMRANGEBYLEX', KEYS[2], ARGV[6], ARGV[7])
else
  -- a later put of an older id makes the head stale: readers then check it against the
  -- index and take the longer way
  redis.call('HSET', KEYS[7], unpack(ARGV, at + 1, at + m))
  for i = at + m + 1, #ARGV, 1000 do
    redis.call('HSET', KEYS[6], unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
redis.call('ZADD', KEYS[2], 0, ARGV[4])
-- indexed now: delete_thread finds the record (and writes saved early) from here
redis.call('SREM', KEYS[3], KEYS[1])
redis.call('SADD', KEYS[4], ARGV[5])
if ARGV[2] ~= '' then
  local ttl = tonumber(ARGV[2])
  local last = shallow and 4 or 7
  for i = 1, last do
    if i ~= 5 then
      redis.call('EXPIRE', KEYS[i], ttl)
    end
  end
end
return 0
