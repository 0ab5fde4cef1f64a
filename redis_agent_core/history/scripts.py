"""The chat history's Lua scripts: :class:`_Script` (source plus its locally computed
SHA1), every script a session write or read runs, and :func:`_as_eval`, the EVAL form of
an EVALSHA call for when the server has not cached a script yet."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

_UNPACK_CHUNK = 4000  # Lua's unpack() has a stack limit: push in chunks
PRUNE_BATCH = 100  # expired sessions a write removes from the index, at most

# Sessions idle for longer than the TTL have expired with their keys; each write drops
# up to PRUNE_BATCH of them from the index (oldest first), so the index stays
# proportional to live sessions without listing them, and no call does unbounded work.
_PRUNE_LUA = f"""
local function prune_index(index, now, ttl)
  if ttl > 0 then
    local cutoff = '(' .. string.format('%d', tonumber(now) - ttl * 1000)
    local gone = redis.call('ZRANGEBYSCORE', index, '-inf', cutoff, 'LIMIT', 0, {PRUNE_BATCH})
    if #gone > 0 then redis.call('ZREM', index, unpack(gone)) end
  end
end
"""


class _Script:
    """Lua source with its SHA1, computed locally (no SCRIPT LOAD round trip)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def evalsha(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        return ("EVALSHA", self.sha, len(keys), *keys, *args)

    def eval(self, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
        return ("EVAL", self.source, len(keys), *keys, *args)


_EXPIRE_LUA = f"""
local function expire_all(ttl)
  if ttl > 0 then
    for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ttl) end  -- the session's own keys
  end
end
local function push(key, from, to)
  local len = 0
  for i = from, to, {_UNPACK_CHUNK} do
    len = redis.call('RPUSH', key, unpack(ARGV, i, math.min(i + {_UNPACK_CHUNK - 1}, to)))
  end
  return len
end
"""

# KEYS: msgs, meta, archive[, sessions index]. ARGV: now_ms, ttl_s (0 none),
# max_len (0 none), mode (append|replace), target (active|archived), n_meta, n_del,
# session id, meta pairs..., deleted meta fields..., payloads...
# The index is only passed on a single node: on a cluster it lives in another slot
# and the caller pipelines its ZADD next to the script instead.
# Returns {length of the target list, first sequence number of the payloads}.
_WRITE = _Script(
    _EXPIRE_LUA
    + _PRUNE_LUA
    + """
local now, ttl, maxlen = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local mode, target = ARGV[4], ARGV[5]
local nmeta, ndel = tonumber(ARGV[6]), tonumber(ARGV[7])
local key = KEYS[1]
if target == 'archived' then key = KEYS[3] end
-- first write: one Redis refuses when memory is full (it checks only a script's first
-- write, and a DEL first would let a replace write past a full noeviction server)
redis.call('HSET', KEYS[2], 'updated_at', now)
if mode == 'replace' then redis.call('DEL', key) end
local first = 9 + 2 * nmeta + ndel
local count = #ARGV - first + 1
local len
if count > 0 then len = push(key, first, #ARGV) else len = redis.call('LLEN', key) end
if maxlen > 0 and target == 'active' and len > maxlen then
  redis.call('LTRIM', key, -maxlen, -1)
  len = maxlen
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
if seq == 0 then redis.call('HSETNX', KEYS[2], 'created_at', now) end  -- first write
for i = 9, 8 + 2 * nmeta, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
for i = 9 + 2 * nmeta, 8 + 2 * nmeta + ndel do redis.call('HDEL', KEYS[2], ARGV[i]) end
if #KEYS == 4 then
  redis.call('ZADD', KEYS[4], now, ARGV[8])
  prune_index(KEYS[4], now, ttl)
end
expire_all(ttl)
return {len, seq}
"""
)

# The common write, kept short (it runs on every message): append active payloads,
# no metadata change. Same effects as _WRITE in mode append / target active.
# KEYS: msgs, meta, archive[, sessions index]. ARGV: session id, ttl_s (0 none),
# max_len (0 none), now_ms, payloads... (at most _UNPACK_CHUNK of them).
_APPEND = _Script(
    _PRUNE_LUA
    + """
local count = #ARGV - 4
local len = redis.call('RPUSH', KEYS[1], unpack(ARGV, 5))
local maxlen = tonumber(ARGV[3])
if maxlen > 0 and len > maxlen then
  redis.call('LTRIM', KEYS[1], -maxlen, -1)
  len = maxlen
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', count) - count
if seq == 0 then redis.call('HSETNX', KEYS[2], 'created_at', ARGV[4]) end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[4])
local ttl = tonumber(ARGV[2])
if #KEYS == 4 then
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
  prune_index(KEYS[4], ARGV[4], ttl)
end
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
return {len, seq}
"""
)

# KEYS: sessions index. ARGV: now_ms, ttl_s. The prune alone, for a cluster (where
# the index lives in another slot than the session's keys).
_PRUNE = _Script(
    _PRUNE_LUA
    + """
prune_index(KEYS[1], ARGV[1], tonumber(ARGV[2]))
return 0
"""
)

# KEYS: msgs. ARGV: index, tombstone. Replace the item by a unique tombstone, then
# remove that: deletes one item in place and keeps the order of the others.
_DELETE_AT = _Script(
    """
local v = redis.call('LINDEX', KEYS[1], ARGV[1])
if not v then return false end
redis.call('LSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[2])
return v
"""
)

# KEYS: msgs, meta, archive[, sessions index]. ARGV: n, move_to_archive (0/1), now_ms,
# ttl_s, session id. Like every write that refreshes the TTL, it refreshes the
# session's index entry (ZADD XX: never re-adds a deleted session); on a cluster the
# caller pipelines that ZADD instead.
_TAKE_OLDEST = _Script(
    _EXPIRE_LUA
    + _PRUNE_LUA
    + """
local n = tonumber(ARGV[1])
local items = redis.call('LRANGE', KEYS[1], 0, n - 1)
if #items == 0 then return items end
if ARGV[2] == '1' then  -- archiving adds data: refused when full (see _WRITE)
  redis.call('HSET', KEYS[2], 'updated_at', ARGV[3])
end
redis.call('LTRIM', KEYS[1], n, -1)
if ARGV[2] == '1' then
  for i = 1, #items, 4000 do
    redis.call('RPUSH', KEYS[3], unpack(items, i, math.min(i + 3999, #items)))
  end
end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[3])
if #KEYS == 4 then
  redis.call('ZADD', KEYS[4], 'XX', ARGV[3], ARGV[5])
  prune_index(KEYS[4], ARGV[3], tonumber(ARGV[4]))
end
expire_all(tonumber(ARGV[4]))
return items
"""
)

# KEYS: msgs, meta, archive[, sessions index]. ARGV: which (active|archived|all),
# return_items (0/1), session id.
# Returns {archived items, active items} deleted (empty unless asked).
_CLEAR = _Script(
    """
local which, give = ARGV[1], ARGV[2] == '1'
local archived, active = {}, {}
if which ~= 'active' then
  if give then archived = redis.call('LRANGE', KEYS[3], 0, -1) end
  redis.call('DEL', KEYS[3])
end
if which ~= 'archived' then
  if give then active = redis.call('LRANGE', KEYS[1], 0, -1) end
  redis.call('DEL', KEYS[1])
end
if which == 'all' then
  redis.call('DEL', KEYS[2])
  if #KEYS == 4 then redis.call('ZREM', KEYS[4], ARGV[3]) end
end
return {archived, active}
"""
)

# KEYS: msgs, meta, archive. Returns {meta pairs, len active, len archived, pttl}.
_INFO = _Script(
    """
return {redis.call('HGETALL', KEYS[2]), redis.call('LLEN', KEYS[1]),
        redis.call('LLEN', KEYS[3]), redis.call('PTTL', KEYS[2])}
"""
)

# KEYS: msgs, archive. Returns {archived items, active items} in one snapshot.
_READ_BOTH = _Script(
    """
return {redis.call('LRANGE', KEYS[2], 0, -1), redis.call('LRANGE', KEYS[1], 0, -1)}
"""
)

_BY_SHA = {
    s.sha: s for s in (_WRITE, _APPEND, _PRUNE, _DELETE_AT, _TAKE_OLDEST, _CLEAR, _INFO, _READ_BOTH)
}


def _as_eval(cmd: tuple[Any, ...]) -> tuple[Any, ...]:
    """The EVAL form of an EVALSHA call of one of this module's scripts."""
    if cmd[0] != "EVALSHA":
        return cmd
    sha = cmd[1]
    script = _BY_SHA[sha.decode() if isinstance(sha, bytes) else sha]
    return ("EVAL", script.source, *cmd[2:])
