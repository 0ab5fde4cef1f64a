"""The chat history's Lua scripts (``.lua`` files beside this module, run through
:class:`redis_agent_core.scripts.Script`): every script a session write or read runs.
``expire_lib.lua``, ``prune_lib.lua`` and ``lost_lib.lua`` hold the Lua functions several
scripts share (``check_ttl`` refuses a TTL that ``EXPIRE`` would, before a write script's
first write; ``lost_lib.lua`` is the one "lost index" protocol of the session index and of
the owners' session lists, :class:`..owned.OwnedSessions`)."""

from __future__ import annotations

from typing import Any

from ..config import MAX_TTL
from ..scripts import Script, as_eval

__all__ = ["PRUNE_BATCH", "PRUNE_EVERY", "as_eval"]

_UNPACK_CHUNK = 4000  # Lua's unpack() has a stack limit: push in chunks
PRUNE_BATCH = 100  # expired sessions a write removes from the index, at most
PRUNE_EVERY = 16  # a plain append prunes when its session joins the index, else 1 in this

# Sessions idle for longer than the TTL have expired with their keys; writes drop up
# to PRUNE_BATCH of them from the index (oldest first), so the index stays
# proportional to live sessions without listing them, and no call does unbounded work.
# Every write but a plain append prunes; a plain append (the per-message hot path, where
# the prune was ~1/8 of the script's server time) prunes when its session joins the
# index, the only way the index grows, and at every PRUNE_EVERY-th message.
_LIB: dict[str, Any] = {
    "PRUNE_BATCH": PRUNE_BATCH,
    "PRUNE_EVERY": PRUNE_EVERY,
    "UNPACK_CHUNK": _UNPACK_CHUNK,
    "UNPACK_CHUNK_LAST": _UNPACK_CHUNK - 1,
    "MAX_TTL": MAX_TTL,
}

# KEYS: msgs, meta, archive[, sessions index, its marker]. ARGV: now_ms, ttl_s (0 none),
# max_len (0 none), mode (append|replace|extend: a replace only when the list holds the
# start of the payloads, else {-1, its length} and nothing written), target
# (active|archived), n_meta, n_del, session id, meta pairs..., deleted meta fields...,
# payloads...
# The index is only passed on a single node: on a cluster it lives in another slot
# and the caller pipelines its ZADD next to the script instead.
# Returns {length of the target list, first sequence number of the payloads}
# (seq_lib.lua: numbers restart above the old ones when the meta hash was evicted).
# Not idempotent (nor are _APPEND, _DELETE_AT, _TAKE_OLDEST, and _CLEAR's returned
# messages): never re-sent after a lost connection (scripts.Script).
_WRITE = Script.load(
    __package__,
    "expire_lib.lua",
    "prune_lib.lua",
    "lost_lib.lua",
    "seq_lib.lua",
    "trim_lib.lua",
    "write.lua",
    idempotent=False,
    **_LIB,
)

# The common write, kept short (it runs on every message): append active payloads,
# no metadata change. Same effects as _WRITE in mode append / target active.
# KEYS: msgs, meta, archive[, sessions index, its marker]. ARGV: session id, ttl_s (0 none),
# max_len (0 none), now_ms, payloads... (at most _UNPACK_CHUNK).
# now_ms (the caller's clock) is the session's created_at / updated_at; the index is
# scored on the server's clock (server_ms), since sessions are pruned from it by
# comparing scores written by every process: scored by each writer's clock, a writer
# 10 minutes behind had its live sessions pruned at once by the others.
_APPEND = Script.load(
    __package__,
    "prune_lib.lua",
    "lost_lib.lua",
    "seq_lib.lua",
    "trim_lib.lua",
    "append.lua",
    idempotent=False,
    **_LIB,
)

# KEYS: sessions index, its marker. ARGV: session id, ttl_s, 'XX' or ''. The index
# update of a write on a cluster (where the index lives in another slot than the
# session's keys).
_INDEX = Script.load(__package__, "prune_lib.lua", "lost_lib.lua", "index.lua", **_LIB)

# KEYS: sessions index, its marker. ARGV: ttl_s, first rank, last rank, '1' newest first.
# Every expired session pruned, then a page of the index; {1} when it was lost.
_LIST = Script.load(__package__, "prune_lib.lua", "lost_lib.lua", "list.lua", **_LIB)

# KEYS: msgs. ARGV: index, tombstone. Replace the item by a unique tombstone, then
# remove that: deletes one item in place and keeps the order of the others.
_DELETE_AT = Script.load(__package__, "delete_at.lua", idempotent=False)

# KEYS: msgs, meta, archive[, sessions index]. ARGV: n, move_to_archive (0/1), now_ms,
# ttl_s, session id. Like every write that refreshes the TTL, it refreshes the
# session's index entry (ZADD XX: never re-adds a deleted session); on a cluster the
# caller pipelines that ZADD instead.
_TAKE_OLDEST = Script.load(
    __package__, "expire_lib.lua", "prune_lib.lua", "take_oldest.lua", idempotent=False, **_LIB
)

# KEYS: msgs, meta, archive[, sessions index]. ARGV: which (active|archived|all),
# return_items (0/1), session id.
# Returns {archived items, active items} deleted (empty unless asked).
_CLEAR = Script.load(__package__, "clear.lua", idempotent=False)

# KEYS: msgs, meta, archive. Returns {meta pairs, len active, len archived, pttl}.
_INFO = Script.load(__package__, "info.lua")

# KEYS: msgs, archive. Returns {archived items, active items} in one snapshot.
_READ_BOTH = Script.load(__package__, "read_both.lua")

# An owner's session list (owned.OwnedSessions). KEYS: the list, its marker (one slot).
# _OWNED_ADD ARGV: stored session id, score (s), ttl_s (0 none), '1' when the session
# held messages before; returns 1 when the session joined the list. Run twice, the second
# finds the session listed (ZADD 0): it changes nothing more.
_OWNED_ADD = Script.load(__package__, "lost_lib.lua", "owned_add.lua")
# ARGV: how many. Returns {0, stored ids newest first...}, or {1} when the list was lost.
_OWNED_LIST = Script.load(__package__, "lost_lib.lua", "owned_list.lua")
# ARGV: ttl_s, '1' on the last batch (marks it whole), score, stored id pairs.
_OWNED_REBUILD = Script.load(__package__, "owned_rebuild.lua")
