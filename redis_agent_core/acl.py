"""Least-privilege ACL rules for an application user of the pack.

Every key and Pub/Sub channel the pack writes starts with ``<namespace>:``, so one user
per namespace can be confined to it. The commands are the data-type commands (reads and
writes of strings, hashes, lists, sorted sets, streams), Lua scripts, MULTI/EXEC
(checkpoints), Pub/Sub (the bus) and, for the roles that search, the Query Engine's
commands by name: RediSearch loaded as a module puts them in no ACL category, and
Redis 8's ``@search`` category does not exist on older servers. Everything marked
``@dangerous`` (FLUSHALL, CONFIG, MODULE, INFO, KEYS, DEBUG, ...) stays denied: the
capability probe then reads versions from ``HELLO``.

``redis-agent acl USER`` prints the ``ACL SETUSER`` line (without a password: add
``>secret`` or use ``ACL SETUSER USER >secret`` yourself).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis
from redis.cluster import RedisCluster

from .keys import validate_namespace

__all__ = [
    "JSON_COMMANDS",
    "SEARCH_COMMANDS",
    "acl_rules",
    "acl_setuser_command",
    "server_commands",
]

#: the Query Engine commands the pack sends (vector search, semantic cache, recall,
#: capability probe, index migration)
SEARCH_COMMANDS = (
    "FT.CREATE", "FT.ALTER", "FT.DROPINDEX", "FT.INFO", "FT.SEARCH", "FT.AGGREGATE",
    "FT.CURSOR", "FT.EXPLAIN", "FT._LIST", "FT.ALIASADD", "FT.ALIASUPDATE", "FT.ALIASDEL",
    "FT.TAGVALS", "FT.HYBRID",
)  # fmt: skip
#: RedisJSON commands (vector indexes with ``storage="json"``)
JSON_COMMANDS = (
    "JSON.GET", "JSON.SET", "JSON.MGET", "JSON.DEL", "JSON.TYPE", "JSON.DEBUG",
)  # fmt: skip
_CATEGORIES = (
    "+@read", "+@write", "+@scripting", "+@transaction", "+@pubsub", "+@connection",
    "-@dangerous", "-@admin",
    "+time",  # in no data category; scripts stamp entries with the server's clock
)  # fmt: skip


def acl_rules(
    namespace: str = "rap", *, search: bool = True, server_commands: Iterable[str] | None = None
) -> list[str]:
    """ACL rules confining a user to the pack's keys and channels under ``namespace``.

    ``search=False`` leaves out the Query Engine (enough for exact caches, history,
    limits, the bus, checkpoints and the task queue). ``server_commands``: the command
    names the target server knows (:func:`server_commands`); ACL SETUSER refuses a
    command it does not know (e.g. FT.HYBRID before Redis 8.4), so those are left out.
    """
    validate_namespace(namespace)
    rules = ["on", "resetkeys", f"~{namespace}:*", "resetchannels", f"&{namespace}:*"]
    rules += ["-@all", *_CATEGORIES]
    if search:
        known = None if server_commands is None else {c.lower() for c in server_commands}
        names = [c.lower() for c in (*SEARCH_COMMANDS, *JSON_COMMANDS)]
        rules += [f"+{name}" for name in names if known is None or name in known]
    return rules


def server_commands(client: redis.Redis | RedisCluster) -> set[str]:
    """The lower-case command names ``client``'s server knows (``COMMAND LIST``)."""
    return {_text(name).lower() for name in client.execute_command("COMMAND LIST")}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def acl_setuser_command(
    user: str,
    namespace: str = "rap",
    *,
    search: bool = True,
    server_commands: Iterable[str] | None = None,
) -> str:
    """The ``ACL SETUSER`` line for ``user`` (no password: add ``>secret``)."""
    if not user or any(ch.isspace() for ch in user):
        raise ValueError(f"an ACL user name has no spaces and is not empty, got {user!r}")
    rules = acl_rules(namespace, search=search, server_commands=server_commands)
    return " ".join(["ACL", "SETUSER", user, *rules])
