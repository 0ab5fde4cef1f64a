"""Least-privilege ACL rules for an application user of the pack.

Every key and Pub/Sub channel the pack writes starts with ``<namespace>:``, so one user
per namespace can be confined to its keys and channels (with the limits below). The
commands are the data-type commands (reads and writes of strings, hashes, lists, sorted
sets, streams), Lua scripts, MULTI/EXEC (checkpoints), Pub/Sub (the bus) and, for the
roles that search, the Query Engine's
commands by name: RediSearch loaded as a module puts them in no ACL category, and
Redis 8's ``@search`` category does not exist on older servers. Everything marked
``@dangerous`` (FLUSHALL, CONFIG, MODULE, INFO, KEYS, DEBUG, ...) stays denied: the
capability probe then reads versions from ``HELLO``. So do the server-wide commands of
those categories that the pack never sends (:data:`DENIED_COMMANDS`: functions, SCRIPT,
RANDOMKEY, DBSIZE, PUBSUB): they would flush or list other users' code, keys or channels.

What these rules cannot confine: SCAN (the pack lists its own keys with it) returns key
names of the whole database, and ``FT._LIST`` every index name. On a server whose search
is a module (RediSearch 2.x, Redis Stack), ACL key patterns check an index's name but
not the ``PREFIX`` of ``FT.CREATE``: a user granted ``FT.CREATE`` can index, read
(``FT.SEARCH``) and delete (``FT.DROPINDEX ... DD``) any key of the database. Give each
tenant its own Redis instance there, or create the indexes as an admin and deny the
runtime user ``FT.CREATE``, ``FT.ALTER`` and ``FT.DROPINDEX`` (``index_admin=False``).

``redis-agent acl USER`` prints the ``ACL SETUSER`` line (without a password: add
``>secret`` or use ``ACL SETUSER USER >secret`` yourself).
"""

from __future__ import annotations

from collections.abc import Iterable

import redis
from redis.cluster import RedisCluster

from .errors import ConfigError
from .keys import validate_namespace

__all__ = [
    "DENIED_COMMANDS",
    "INDEX_ADMIN_COMMANDS",
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
#: commands of the granted categories that act on, or list, the whole server and that the
#: pack never sends (it runs scripts with EVALSHA / EVAL only, and lists keys with SCAN)
DENIED_COMMANDS = (
    "FUNCTION", "FCALL", "FCALL_RO",  # functions are server-wide code (FUNCTION FLUSH, LIST)
    "SCRIPT",  # SCRIPT FLUSH / KILL act on every client's scripts, SCRIPT DEBUG SYNC blocks
    "RANDOMKEY", "DBSIZE",  # names and counts keys of every namespace
    "PUBSUB",  # PUBSUB CHANNELS / NUMSUB list every channel
)  # fmt: skip
#: the search commands that create, change or drop an index (and name its ``PREFIX``)
INDEX_ADMIN_COMMANDS = ("FT.CREATE", "FT.ALTER", "FT.DROPINDEX")


def acl_rules(
    namespace: str = "rap",
    *,
    search: bool = True,
    index_admin: bool = True,
    server_commands: Iterable[str] | None = None,
) -> list[str]:
    """ACL rules confining a user to the pack's keys and channels under ``namespace``.

    ``search=False`` leaves out the Query Engine (enough for exact caches, history,
    limits, the bus, checkpoints and the task queue; its workers with Celery's remote
    control off: it subscribes to a channel pattern, which ``&<namespace>:*`` does not
    grant). ``index_admin=False`` leaves out
    :data:`INDEX_ADMIN_COMMANDS`, for a runtime user of indexes an admin created.
    ``server_commands``: the command names the target server knows
    (:func:`server_commands`); ACL SETUSER refuses a command it does not know (e.g.
    FT.HYBRID before Redis 8.4, FUNCTION before 7.0), so those are left out.
    """
    validate_namespace(namespace)
    known = None if server_commands is None else {c.lower() for c in server_commands}
    rules = ["on", "resetkeys", f"~{namespace}:*", "resetchannels", f"&{namespace}:*"]
    rules += ["-@all", *_CATEGORIES]
    rules += [f"-{name}" for name in _known(DENIED_COMMANDS, known)]
    # kombu (the task queue) runs its Lua through redis-py's Script, which sends SCRIPT
    # LOAD after NOSCRIPT: without it a Celery worker died at start ("Unrecoverable
    # error"). It caches a script, as EVAL does; FLUSH and KILL stay denied.
    rules += [f"+{name}|load" for name in _known(("SCRIPT",), known)]
    if search:
        skip = () if index_admin else INDEX_ADMIN_COMMANDS
        names = [c for c in (*SEARCH_COMMANDS, *JSON_COMMANDS) if c not in skip]
        rules += [f"+{name}" for name in _known(names, known)]
    return rules


def _known(names: Iterable[str], known: set[str] | None) -> list[str]:
    """``names`` in lower case, without those the server does not know."""
    return [n.lower() for n in names if known is None or n.lower() in known]


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
    index_admin: bool = True,
    server_commands: Iterable[str] | None = None,
) -> str:
    """The ``ACL SETUSER`` line for ``user`` (no password: add ``>secret``)."""
    if not user or any(ch.isspace() for ch in user):
        raise ConfigError(f"an ACL user name has no spaces and is not empty, got {user!r}")
    rules = acl_rules(
        namespace, search=search, index_admin=index_admin, server_commands=server_commands
    )
    return " ".join(["ACL", "SETUSER", user, *rules])
