-- An index that tells its own loss (the history's session index, prune_lib.lua's callers;
-- an owner's session list, owned_*.lua). The index holds one more member, '' (no
-- session id is empty) at +inf: present, the index is whole. A marker key beside it
-- (same slot) says a whole index was made. A write that creates the index (its first
-- member, ZADD returned 1) adds '' when the marker is absent (new) and sets the marker;
-- with the marker there, the index was lost (evicted) and is left without it: the
-- reader sees it (index_lost) and the index is rebuilt.
local function note_new_index(index, marker, added)
  if added == 1 and redis.call('ZCARD', index) == 1 and redis.call('EXISTS', marker) == 0 then
    redis.call('ZADD', index, '+inf', '')
    redis.call('SET', marker, '1')
  end
end
-- Whether the index was lost: no '' while the marker is there. An index written before
-- the marker existed (an upgrade: no '', no marker) is taken as whole and marked; the
-- marker takes the index's TTL (an owner's list expires with its sessions: a marker
-- left behind would read the next new list as lost). No index, no marker: empty.
local function index_lost(index, marker)
  if redis.call('ZSCORE', index, '') then return false end
  if redis.call('EXISTS', marker) == 1 then return true end
  if redis.call('EXISTS', index) == 1 then
    redis.call('ZADD', index, '+inf', '')
    redis.call('SET', marker, '1')
    local pttl = redis.call('PTTL', index)
    if pttl > 0 then redis.call('PEXPIRE', marker, pttl) end
  end
  return false
end
