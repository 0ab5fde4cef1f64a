"""The life of one search index: check the server can search, create the index if
missing, compare a live index with the wanted schema, drop it, and notice when it was
dropped behind our back. One flow per step (:mod:`.executor`), run by the sync or the
async client: both modes check capabilities, clusters and schemas identically."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redisvl.exceptions import RedisVLError
from redisvl.schema import IndexSchema

from ..config import RedisAgentConfig
from ..errors import (
    CapabilityError,
    ConfigError,
    RedisAgentError,
    RedisUnavailableError,
    SchemaMismatchError,
)
from ..redis_errors import (
    DENIED,
    REFUSED,
    REPLY,
    is_index_exists,
    is_missing_index,
    is_unknown_command,
    translate_errors,
)
from .capabilities import arequire_search, require_search
from .commands import (
    alias_update_command,
    create_command,
    drop_command,
    explain_command,
    info_command,
    list_command,
)
from .executor import Flow, arun, run
from .replies import describe_info, indexing_done, indexing_failures, pairs, text

__all__ = [
    "IndexLifecycle",
    "alias_flow",
    "drop_flow",
    "drop_namespace_indexes",
    "ensure_flow",
    "info_flow",
    "list_flow",
    "lost_flow",
    "model_flow",
    "overlap_flow",
    "read_info",
]

logger = logging.getLogger("redis_agent_core.search")

T = TypeVar("T")

#: How long (seconds) a read waits for a lost index, created again, to index the
#: documents that outlived it (FT.CREATE indexes existing keys in the background).
REBUILD_WAIT = 5.0

#: How a query reports a missing index: a reply error, or redisvl's wrapping of one.
_REPLY_ERRORS = (*REPLY, RedisVLError)

#: Compares an FT.INFO reply with the wanted schema; raises SchemaMismatchError.
Check = Callable[[Any], None]

#: Where an index records the embedding model of its vectors: (hash key, model name).
#: FT.INFO has no room for it, and vectors of two models are the same shape, so only
#: this record tells a float32 MiniLM index from an int8 one.
Stamp = tuple[str, str]
MODEL_FIELD = "model"

#: The field of an owner's record hash (``record=``) that says its index was made and not
#: dropped through the pack. It outlives FT.DROPINDEX (documents kept): a fresh object
#: that finds the index missing tells "lost" (rebuild it) from "never made" (empty).
MADE_FIELD = "index"


def _create_error(exc: Exception, index: str, what: str) -> BaseException:
    if is_unknown_command(exc):
        return CapabilityError(
            f"{what} needs the Redis Query Engine (FT.CREATE is unknown here). Use Redis "
            "8, Redis Stack or Redis Cloud, or unset REDIS_URL to use the embedded server."
        )
    if isinstance(exc, REFUSED):
        return exc  # full or read-only: mapped by translate_errors
    if isinstance(exc, DENIED):
        return RedisAgentError(
            f"creating index {index} failed: {exc}. This Redis user may not create indexes "
            f"(redis-agent acl --no-index-admin) and {what} needs this one (new, or lost to a "
            "flush or a drop): create it as the admin user (run this role once with the "
            "admin's URL), or grant the user FT.CREATE."
        )
    return RedisAgentError(f"creating index {index} failed: {exc}")


def model_flow(stamp: Stamp, what: str) -> Flow[None]:
    """Record the embedding model of an index's vectors on first use (an index from a
    version that kept no record takes the model of the first process to open it), and
    raise when it was written by another model: a search would compare vectors of two
    models, and answer with the wrong neighbours without a sign."""
    key, model = stamp
    # read first: an auto index re-opens every AUTO_RECHECK seconds, and once the record
    # exists one round trip settles it; only a missing record costs the write and a re-read
    # (another process may have written its own first)
    found = yield ["HGET", key, MODEL_FIELD]
    if found is None:
        yield ["HSETNX", key, MODEL_FIELD, model]
        found = yield ["HGET", key, MODEL_FIELD]
    if found is not None and text(found) != model:
        raise SchemaMismatchError(
            f"{what} holds vectors of the embedding model {text(found)!r}, but this one "
            f"embeds with {model!r}: its searches would compare vectors of two models. "
            "Pass the embedder that wrote it (REDIS_AGENT_EMBEDDER=onnx selects the "
            "float32 MiniLM default of releases before the int8 one), give this one "
            "another name=, or drop the old one."
        )


def nested(mine: str, theirs: str) -> bool:
    """Whether two distinct key prefixes nest (one starts with the other)."""
    return mine != theirs and (mine.startswith(theirs) or theirs.startswith(mine))


def overlap_flow(name: str, prefixes: list[str], what: str) -> Flow[None]:
    """Refuse to create index ``name`` when one of its key ``prefixes`` nests with another
    index's: RediSearch indexes every key that starts with a prefix, so a store at
    ``app:`` would search, count and clear the documents of a store at ``app:sub:``
    (llama_index#6665: a vector store's overwrite deleted a docstore's keys). The same
    prefix is allowed (several indexes over one set of documents, as the auto index's
    rebuilds); an index over every key (prefix ``""``) is not a store's and is skipped.
    The pack's own prefixes never nest (``keys.escape_part``): only a ``key_prefix=``
    or a redisvl schema's prefix can. Runs once, before the index is created. Indexes this
    user may not read (another tenant's, under ACL key patterns) are skipped: a confined
    user's keys are its namespace's."""
    try:
        names = yield from list_flow()
    except DENIED:  # an ACL without FT._LIST: no other index can be seen
        return
    for other in names:
        if other == name:
            continue
        try:
            info = yield from info_flow(other)
        except DENIED:  # ACL key patterns check index names: another tenant's index
            continue
        if info is None:  # dropped meanwhile
            continue
        for theirs in describe_info(info)["prefixes"]:
            clash = next((m for m in prefixes if theirs and nested(m, theirs)), None)
            if clash is not None:
                raise ConfigError(
                    f"{what} keeps its documents under {clash!r} and index {other!r} under "
                    f"{theirs!r}: one prefix starts with the other, so each index would "
                    "find, count and delete the other's documents. Give one of them a key "
                    "prefix that is not the start of the other's (e.g. 'docs-a' and "
                    "'docs-b', not 'docs' and 'docs:b')"
                )


def made_flow(record: str) -> Flow[bool]:
    """Whether ``record`` says its index was made (see :data:`MADE_FIELD`)."""
    return bool((yield ["HEXISTS", record, MADE_FIELD]))


def ensure_flow(
    schema: IndexSchema,
    check: Check,
    *,
    create: bool,
    what: str,
    alias: str | None = None,
    stamp: Stamp | None = None,
    record: str | None = None,
    created: Callable[[Any], None] | None = None,
) -> Flow[bool]:
    """Whether the index exists (created first when missing and ``create``: then
    ``created`` is given its first ``FT.INFO`` reply); an
    existing index is compared with ``check`` and, with ``stamp``, with the embedding
    model on record (:func:`model_flow`), and noted in ``record`` (:data:`MADE_FIELD`).
    With ``alias``, the index is looked up by the alias (whatever it points at) and a
    missing one is created under the schema's name with the alias pointed at it."""
    name = schema.index.name
    info = yield from info_flow(alias or name)
    if info is None:
        if not create:
            return False
        prefix = schema.index.prefix
        yield from overlap_flow(name, prefix if isinstance(prefix, list) else [prefix], what)
        try:
            yield create_command(schema)
        except REPLY as exc2:
            if not is_index_exists(exc2):  # else: another process won
                raise _create_error(exc2, name, what) from exc2
        if alias is not None:
            yield alias_update_command(alias, name)
        info = yield info_command(alias or name)
        if created is not None:
            created(info)
    check(info)
    if stamp is not None:
        yield from model_flow(stamp, what)
    # read first: a reader on a read-only replica finds it noted and never writes
    if record is not None and not (yield from made_flow(record)):
        yield ["HSET", record, MADE_FIELD, "1"]
    return True


def info_flow(index: str) -> Flow[Any]:
    """The FT.INFO reply of ``index``, ``None`` if it does not exist."""
    try:
        return (yield info_command(index))
    except REPLY as exc:
        if is_missing_index(exc):
            return None
        raise


def alias_flow(alias: str, index: str) -> Flow[None]:
    """Point ``alias`` at ``index`` (atomic: a query sees the old or the new one)."""
    yield alias_update_command(alias, index)


def lost_flow(index: str) -> Flow[bool]:
    """Whether ``index`` is gone: one FT.EXPLAIN (parses ``*``, runs no query)."""
    try:
        yield explain_command(index)
    except REPLY as exc:
        if is_missing_index(exc):
            return True
        raise
    return False


def drop_flow(index: str, *, delete_documents: bool) -> Flow[bool]:
    """Drop the index; ``False`` if it did not exist."""
    try:
        yield drop_command(index, delete_documents=delete_documents)
    except REPLY as exc:
        if is_missing_index(exc):
            return False
        raise
    return True


class IndexLifecycle:
    """Creates (once per instance) and drops one index; ``ready`` is reset when a
    query finds the index gone, so the next use recreates it.

    Args:
        config: the connection settings.
        schema: the wanted index (a redisvl ``IndexSchema``).
        check: compares a live index's FT.INFO with the wanted schema (raise
            :class:`~redis_agent_core.errors.SchemaMismatchError` on a difference).
        what: names the owner in errors (``"semantic cache 'x'"``).
        alias: the name queries use when it is an alias: looked up, checked and dropped
            by it; a missing index is created under the schema's name, then aliased.
        stamp: where the index records the embedding model of its vectors, and this
            owner's model (checked on open; None: vectors of no known model).
        record: a hash of the owner that outlives the index (:data:`MADE_FIELD`): a
            missing index on record was lost, and :meth:`was_made` says so.
    """

    def __init__(
        self,
        config: RedisAgentConfig,
        schema: IndexSchema,
        check: Check,
        what: str,
        *,
        alias: str | None = None,
        stamp: Stamp | None = None,
        record: str | None = None,
    ) -> None:
        self.config = config
        self.stamp = stamp
        self.record = record
        self.schema = schema
        self.alias = alias
        self.name: str = alias or schema.index.name
        self.check = check
        self.what = what
        self.ready = False
        # found or created by this object since its last drop(): a read that then finds
        # the index missing knows it was lost (its documents may still be there), not
        # never made
        self.seen = False
        # recreated by rebuild() and not yet done indexing the documents it found
        self.indexing = False
        # created by this object, its FT.CREATE scan of the keys already in Redis not
        # done: a document written meanwhile is indexed twice when the scan reaches it
        # (RediSearch 2.10), and BM25 counts it twice (its words, its length) until the
        # garbage collector runs: ensure() waits for the scan before a write
        self.scanning = False

    def _flow(self, create: bool) -> Flow[bool]:
        return ensure_flow(self.schema, self.check, create=create, what=self.what,
                           alias=self.alias, stamp=self.stamp, record=self.record,
                           created=self._created)  # fmt: skip

    def _created(self, info: Any) -> None:
        self.scanning = not indexing_done(info)

    def was_made(self) -> bool:
        """Whether the index, found missing, was made before (lost: dropped with its
        documents kept, or Redis restored without it) rather than never made: this
        object saw it, or its record says so (one HEXISTS, only on this path)."""
        if self.seen:
            return True
        if self.record is None:
            return False
        with translate_errors(self.config, f"opening the index of {self.what}"):
            return run(self.config.get_client().execute_command, made_flow(self.record))

    async def awas_made(self) -> bool:
        """Async :meth:`was_made`."""
        if self.seen:
            return True
        if self.record is None:
            return False
        with translate_errors(self.config, f"opening the index of {self.what}"):
            client = self.config.get_async_client()
            return await arun(client.execute_command, made_flow(self.record))

    def _drop_flow(self, delete_documents: bool) -> Flow[bool]:
        dropped = yield from drop_flow(self.name, delete_documents=delete_documents)
        if self.record is not None:  # dropped on purpose: no longer "lost" when missing
            yield ["HDEL", self.record, MADE_FIELD]
        return dropped

    def ensure(self, *, create: bool = True, settle: bool = True) -> bool:
        """Whether the index exists with this schema (created when missing and ``create``;
        with ``settle``, a new one is waited for until it has scanned the keys already in
        Redis, capped, before anything is written)."""
        if self.ready:
            return True
        require_search(self.config, self.what)
        with translate_errors(self.config, f"opening the index of {self.what}"):
            found = run(
                self.config.get_client().execute_command,
                self._flow(create),
            )
        self.ready = found
        self.seen = self.seen or found
        if self.scanning and settle:
            self._wait_indexed(give_up=True)
        return found

    async def aensure(self, *, create: bool = True, settle: bool = True) -> bool:
        """Async :meth:`ensure`."""
        if self.ready:
            return True
        await arequire_search(self.config, self.what)
        with translate_errors(self.config, f"opening the index of {self.what}"):
            found = await arun(
                self.config.get_async_client().execute_command,
                self._flow(create),
            )
        self.ready = found
        self.seen = self.seen or found
        if self.scanning and settle:
            await self._await_indexed(give_up=True)
        return found

    # An index can vanish behind its owner (Redis restarted empty, or a drop elsewhere)
    # while documents just written were stored: the owner checks after a write, and
    # creating the index again indexes them.
    def recreate_if_lost(self) -> None:
        """Recreate the index if it is gone (one tiny command when it is not)."""
        with translate_errors(self.config, f"checking the index of {self.what}"):
            lost = run(self.config.get_client().execute_command, lost_flow(self.name))
        if lost:
            self.ready = False
            self.ensure()

    async def arecreate_if_lost(self) -> None:
        """Async :meth:`recreate_if_lost`."""
        with translate_errors(self.config, f"checking the index of {self.what}"):
            client = self.config.get_async_client()
            lost = await arun(client.execute_command, lost_flow(self.name))
        if lost:
            self.ready = False
            await self.aensure()

    def _rebuilding(self, info: Any) -> RedisUnavailableError:
        data = pairs(info)
        done = float(text(data.get("percent_indexed", 0)))
        return RedisUnavailableError(
            f"{self.what}: its index {self.name} was lost (dropped, or Redis restarted) and "
            "is being rebuilt over the documents still in Redis "
            f"({text(data.get('num_docs', '?'))} indexed so far, {done:.0%} done after "
            f"{REBUILD_WAIT:g} s); its answers would miss documents until then. Retry shortly."
        )

    def rebuild(self) -> None:
        """Create a lost index again and wait (up to :data:`REBUILD_WAIT` seconds) until it
        has indexed the documents that outlived it: a read then answers from all of them,
        or raises :class:`RedisUnavailableError`, never from part of them."""
        logger.warning("%s: index %s is missing; creating it again", self.what, self.name)
        self.ready = False
        self.ensure(settle=False)
        self.indexing = True  # until FT.INFO says done, every query waits for it first
        self._wait_indexed()

    async def arebuild(self) -> None:
        """Async :meth:`rebuild`."""
        logger.warning("%s: index %s is missing; creating it again", self.what, self.name)
        self.ready = False
        await self.aensure(settle=False)
        self.indexing = True
        await self._await_indexed()

    def ensure_searchable(self) -> None:
        """Before a query that may create the index: it exists and has indexed the
        documents under its prefix. One created now (documents may predate it: a drop
        behind this object's back, a restore) is waited for as a rebuild, so is one an
        earlier call rebuilt and gave up waiting for; an existing one costs nothing more."""
        if not self.ready and not self.ensure(create=False):
            self.ensure(settle=False)
            self.indexing = True
        self.wait_rebuilt()

    async def aensure_searchable(self) -> None:
        """Async :meth:`ensure_searchable`."""
        if not self.ready and not await self.aensure(create=False):
            await self.aensure(settle=False)
            self.indexing = True
        await self.await_rebuilt()

    def wait_rebuilt(self) -> None:
        """Before a query: wait (capped, as :meth:`rebuild`) for an index rebuilt by an
        earlier call that gave up waiting; nothing otherwise."""
        if self.indexing:
            self._wait_indexed()

    async def await_rebuilt(self) -> None:
        """Async :meth:`wait_rebuilt`."""
        if self.indexing:
            await self._await_indexed()

    def _indexed(self, info: Any) -> None:
        """An index done scanning the documents that predate it: usable unless some of
        them did not fit its schema (then ``indexing`` stays set: every query raises)."""
        failed, error, key = indexing_failures(info)
        if failed:
            raise SchemaMismatchError(
                f"{self.what}: its index {self.name} was created over {failed} documents "
                f"already in Redis that do not fit its schema (last: {key!r}: {error}), "
                "e.g. vectors of other dims written before: its searches would silently miss "
                "them. Drop this index keeping its documents (drop(delete_documents=False)) "
                "and create it again with the settings that wrote them (dims=, the "
                "embedder), or delete those documents."
            )
        self.indexing = False

    def _wait_indexed(self, *, give_up: bool = False) -> None:
        """Wait (capped) until the index has scanned the keys already in Redis; raise
        when it has not by then, or with ``give_up`` (a new index, before a write) go on."""
        deadline = time.monotonic() + REBUILD_WAIT
        execute = self.config.get_client().execute_command
        with translate_errors(self.config, f"rebuilding the index of {self.what}"):
            while not indexing_done(info := run(execute, info_flow(self.name)) or ()):
                if time.monotonic() >= deadline:
                    return self._scan_slow(give_up, info)
                time.sleep(0.05)
        self._scanned(give_up, info)

    async def _await_indexed(self, *, give_up: bool = False) -> None:
        deadline = time.monotonic() + REBUILD_WAIT
        execute = self.config.get_async_client().execute_command
        with translate_errors(self.config, f"rebuilding the index of {self.what}"):
            while not indexing_done(info := await arun(execute, info_flow(self.name)) or ()):
                if time.monotonic() >= deadline:
                    return self._scan_slow(give_up, info)
                await asyncio.sleep(0.05)
        self._scanned(give_up, info)

    def _scan_slow(self, give_up: bool, info: Any) -> None:
        if not give_up:
            raise self._rebuilding(info)
        self.scanning = False
        logger.info(
            "%s: index %s is still scanning the keys already in Redis after %g s; writing "
            "now: BM25 text scores may count the documents written meanwhile twice until "
            "RediSearch's garbage collector runs",
            self.what,
            self.name,
            REBUILD_WAIT,
        )

    def _scanned(self, give_up: bool, info: Any) -> None:
        self.scanning = False
        if not give_up:
            self._indexed(info)

    def _gone_again(self, exc: BaseException) -> RedisUnavailableError:
        return RedisUnavailableError(
            f"{self.what}: its index {self.name} went missing again right after it was "
            f"created again ({exc}); something keeps dropping it or flushing Redis. Retry, "
            "and check what drops it."
        )

    def retrying(self, call: Callable[[], T]) -> T:
        """``call()`` (a query on this index); when it finds the index missing, the index
        is rebuilt (:meth:`rebuild`) and ``call`` runs once more. Without this, a lost
        index would answer every query with an error, or with nothing while its
        documents are still in Redis."""
        self.wait_rebuilt()
        try:
            return call()
        except _REPLY_ERRORS as exc:
            if not self.missing(exc):
                raise
        self.rebuild()
        try:
            return call()
        except _REPLY_ERRORS as exc:
            if self.missing(exc):
                raise self._gone_again(exc) from exc
            raise

    async def aretrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Async :meth:`retrying`."""
        await self.await_rebuilt()
        try:
            return await call()
        except _REPLY_ERRORS as exc:
            if not self.missing(exc):
                raise
        await self.arebuild()
        try:
            return await call()
        except _REPLY_ERRORS as exc:
            if self.missing(exc):
                raise self._gone_again(exc) from exc
            raise

    def missing(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the index is gone (then the next use recreates it)."""
        if is_missing_index(exc):
            if self.ready:
                logger.warning("%s: index %s is missing", self.what, self.name)
            self.ready = False
            return True
        return False

    def drop(self, *, delete_documents: bool = False) -> bool:
        """Drop the index (``False`` if it did not exist)."""
        self.ready = self.seen = self.indexing = False
        with translate_errors(self.config, f"dropping the index of {self.what}"):
            return run(self.config.get_client().execute_command, self._drop_flow(delete_documents))

    async def adrop(self, *, delete_documents: bool = False) -> bool:
        """Async :meth:`drop`."""
        self.ready = self.seen = self.indexing = False
        with translate_errors(self.config, f"dropping the index of {self.what}"):
            client = self.config.get_async_client()
            return await arun(client.execute_command, self._drop_flow(delete_documents))


def read_info(config: RedisAgentConfig, index: str, action: str) -> Any:
    """The FT.INFO reply of ``index`` (``None`` if it does not exist)."""
    with translate_errors(config, action):
        return run(config.get_client().execute_command, info_flow(index))


async def aread_info(config: RedisAgentConfig, index: str, action: str) -> Any:
    """Async :func:`read_info`."""
    with translate_errors(config, action):
        return await arun(config.get_async_client().execute_command, info_flow(index))


def list_flow() -> Flow[list[str]]:
    """The names of every index on the server."""
    return [text(name) for name in (yield list_command())]


def namespace_indexes(config: RedisAgentConfig) -> list[str]:
    """The names of the indexes of ``config``'s namespace."""
    prefix = f"{config.namespace}:"
    with translate_errors(config, f"listing the indexes of namespace {config.namespace!r}"):
        names = run(config.get_client().execute_command, list_flow())
    return sorted(name for name in names if name.startswith(prefix))


def drop_namespace_indexes(config: RedisAgentConfig) -> list[str]:
    """Drop every index of ``config``'s namespace (not their documents); their names."""
    execute = config.get_client().execute_command
    prefix = f"{config.namespace}:"
    with translate_errors(config, f"dropping the indexes of namespace {config.namespace!r}"):
        names = [name for name in run(execute, list_flow()) if name.startswith(prefix)]
        for name in names:
            run(execute, drop_flow(name, delete_documents=False))
    return names
