"""LangChain chat message history on the Redis session store.

Messages are stored as ``message_to_dict`` JSON, so every message type (AI with tool
calls and usage metadata, Tool, Function, Chat, chunks...) round-trips exactly.
Building a history is free: no I/O, no connection; histories share the config's pool.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import Embedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.history import SessionInfo, SessionStore, corrupt_message_error, rank_texts
from redis_agent_core.jsonvalues import dumps_json
from redis_agent_core.migrate import namespace_for_prefix, peer_config

with warnings.catch_warnings():
    # Deprecated upstream (since langchain-core 1.6.4) but still what chains use.
    warnings.simplefilter("ignore", DeprecationWarning)
    from langchain_core.chat_history import BaseChatMessageHistory

__all__ = ["RedisChatMessageHistory", "decode_messages", "encode_messages"]

log = logging.getLogger(__name__)

OnCorrupt = Literal["raise", "skip"]


def _listed(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """``messages`` as a list; one message given alone raises :class:`ConfigError`
    (iterated, a message is its (field, value) pairs: "message 0 is a tuple")."""
    if isinstance(messages, BaseMessage):
        raise ConfigError(
            f"messages must be a list of messages, got one {type(messages).__name__}; "
            "pass a list: [message] (or call add_message)"
        )
    return messages if isinstance(messages, list) else list(messages)


def encode_messages(messages: Sequence[BaseMessage]) -> list[bytes]:
    """Messages as JSON payloads (LangChain's ``message_to_dict`` form)."""
    messages = _listed(messages)
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, BaseMessage):
            raise ConfigError(
                f"message {i} is a {type(message).__name__}, not a LangChain BaseMessage"
            )
        as_dict = message_to_dict(message)
        # the message's own None fields (name, id...): the NaN walk runs only past them
        nulls = list(as_dict["data"].values()).count(None)
        out.append(dumps_json(as_dict, f"message {i} ({message.type})", nulls=nulls))
    return out


def decode_messages(
    session_id: str,
    payloads: Sequence[bytes | str],
    on_corrupt: OnCorrupt = "raise",
    start: int = 0,
) -> list[BaseMessage]:
    """Payloads back to messages. A malformed one raises :class:`DataCorruptionError`
    naming the session and index (``start`` offsets it), or is skipped with a warning."""
    try:
        return messages_from_dict([orjson.loads(p) for p in payloads])
    except Exception:  # find the bad one(s) and say where they are
        pass
    out: list[BaseMessage] = []
    for i, payload in enumerate(payloads):
        try:
            out.extend(messages_from_dict([orjson.loads(payload)]))
        except Exception as exc:
            error = corrupt_message_error(session_id, start + i, exc)
            if on_corrupt == "raise":
                raise error from exc
            log.warning("%s (skipped)", error)
    return out


class RedisChatMessageHistory(BaseChatMessageHistory):
    """Chat history of one session in Redis, sync and native async.

    Args:
        session_id: the conversation's id (any non-empty string).
        config: connection and namespace (``None``: the process default).
        ttl: seconds of inactivity before the session expires (sliding); default
            ``config.default_ttl``.
        max_messages: keep only the newest messages (trimmed atomically on append).
        embedder: turn on semantic recall (:meth:`relevant`), one embedding per message.
        on_corrupt: ``"raise"`` (default) or ``"skip"`` stored messages that cannot be
            decoded.
        store: share an existing :class:`SessionStore` (its settings win).
        redis_url, redis_client: the server, as langchain-redis takes it.
        key_prefix: langchain-redis's key prefix (``"chat:"``): the session's keys
            live under it (it becomes the config's namespace, ``"chat"``; a prefix that
            is no valid namespace is made one: see docs/migrating.md). Trailing colons
            are the separator: ``"chat"`` and ``"chat:"`` name one namespace.
        index_name, overwrite_index: accepted from langchain-redis code; they name its
            message search index, which a session here does not need.

    Example::

        history = RedisChatMessageHistory("user-42", ttl=3600)
        history.add_messages([HumanMessage("hi"), AIMessage("hello")])
        history.messages
    """

    def __init__(
        self,
        session_id: str,
        *,
        config: RedisAgentConfig | None = None,
        ttl: int | None = ...,  # type: ignore[assignment]
        max_messages: int | None = None,
        embedder: Embedder | Any = None,
        on_corrupt: OnCorrupt = "raise",
        store: SessionStore | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        key_prefix: str | None = None,
        index_name: str | None = None,
        overwrite_index: bool = False,
    ) -> None:
        if not isinstance(session_id, str) or not session_id:
            raise ConfigError(f"session_id must be a non-empty str, got {session_id!r}")
        if on_corrupt not in ("raise", "skip"):
            raise ConfigError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")
        self.session_id = session_id
        self.on_corrupt: OnCorrupt = on_corrupt
        # langchain-redis names its message search index; a session here is one list
        # and needs none, so these change nothing that is stored or returned.
        del index_name, overwrite_index
        config = peer_config(
            "RedisChatMessageHistory",
            config=config,
            redis_url=redis_url,
            redis_client=redis_client,
            namespace=None if key_prefix is None else namespace_for_prefix(key_prefix),
        )
        if store is None:
            options: dict[str, Any] = {"max_messages": max_messages}
            if ttl is not ...:
                options["ttl"] = ttl
            if embedder is not None:
                options["embedder"] = _core_embedder(embedder)
            store = SessionStore(config, **options)
        self.store = store

    def __repr__(self) -> str:
        return f"RedisChatMessageHistory({self.session_id!r}, store={self.store!r})"

    # -- BaseChatMessageHistory --
    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """All active messages, oldest first (one round trip)."""
        return decode_messages(self.session_id, self.store.read(self.session_id), self.on_corrupt)

    async def aget_messages(self) -> list[BaseMessage]:
        """Async :attr:`messages`."""
        payloads = await self.store.aread(self.session_id)
        return decode_messages(self.session_id, payloads, self.on_corrupt)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages atomically (one round trip; refreshes the TTL)."""
        messages = _listed(messages)
        if messages:
            self.store.append(
                self.session_id, encode_messages(messages), texts=self._texts(messages)
            )

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Async :meth:`add_messages`."""
        messages = _listed(messages)
        if messages:
            await self.store.aappend(
                self.session_id, encode_messages(messages), texts=self._texts(messages)
            )

    def append_commands(self, messages: Sequence[BaseMessage]) -> list[tuple[Any, ...]]:
        """The Redis commands of :meth:`add_messages`, for a caller that sends them in
        one round trip with other writes (``redis_agent_core.scripts.asend_commands``);
        raises ``ConfigError`` when semantic recall is on (see
        ``SessionStore.append_commands``)."""
        return self.store.append_commands(self.session_id, encode_messages(messages))

    def add_message(self, message: BaseMessage) -> None:
        """Append one message."""
        self.add_messages([message])

    def clear(self) -> None:
        """Delete the session: messages, metadata and its index entry."""
        self.store.clear(self.session_id)

    async def aclear(self) -> None:
        """Async :meth:`clear`."""
        await self.store.aclear(self.session_id)

    # -- langchain-redis names --
    @property
    def id(self) -> str:
        """The session id (langchain-redis's name for it)."""
        return self.session_id

    @property
    def redis_client(self) -> Any:
        """The sync redis-py client (langchain-redis's attribute)."""
        return self.store.config.get_client()

    def __len__(self) -> int:
        """The number of active messages (one round trip)."""
        return self.store.count(self.session_id)

    def delete(self) -> None:
        """Delete the session (langchain-redis's name for :meth:`clear`)."""
        self.clear()

    async def adelete(self) -> None:
        """Async :meth:`delete`."""
        await self.aclear()

    def search_messages(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Messages of this session whose text holds a word of ``query`` (any case,
        light stemming), best match first, at most ``limit``, each as langchain-redis
        returns them: the message's ``message_to_dict`` data (``content``, ``type``,
        ...). Ranked client-side over the session (one round trip)."""
        return _matching(self.messages, query, limit)

    async def asearch_messages(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Async :meth:`search_messages`."""
        return _matching(await self.aget_messages(), query, limit)

    # -- extras --
    def last(self, n: int, *, offset: int = 0) -> list[BaseMessage]:
        """The newest ``n`` messages after skipping the newest ``offset``, oldest first
        (a page of the session from its end, one round trip)."""
        return self._page(self.store.last(self.session_id, n, offset=offset), offset)

    async def alast(self, n: int, *, offset: int = 0) -> list[BaseMessage]:
        """Async :meth:`last`."""
        return self._page(await self.store.alast(self.session_id, n, offset=offset), offset)

    def _page(self, payloads: list[bytes], offset: int) -> list[BaseMessage]:
        # a bad one is named by its index from the end, which delete_message accepts
        start = -offset - len(payloads)
        return decode_messages(self.session_id, payloads, self.on_corrupt, start)

    def delete_message(self, index: int) -> BaseMessage | None:
        """Remove the message at ``index`` (order of the others kept); return it (None if
        there was none, or if it could not be decoded: it is removed all the same)."""
        return self._removed(self.store.delete_at(self.session_id, index), index)

    async def adelete_message(self, index: int) -> BaseMessage | None:
        """Async :meth:`delete_message`."""
        return self._removed(await self.store.adelete_at(self.session_id, index), index)

    def relevant(self, query: str, k: int = 4) -> list[BaseMessage]:
        """Past messages most similar to ``query`` (needs ``embedder=``)."""
        hits = self.store.relevant(self.session_id, query, k)
        return decode_messages(self.session_id, [h.payload for h in hits], self.on_corrupt)

    async def arelevant(self, query: str, k: int = 4) -> list[BaseMessage]:
        """Async :meth:`relevant`."""
        hits = await self.store.arelevant(self.session_id, query, k)
        return decode_messages(self.session_id, [h.payload for h in hits], self.on_corrupt)

    def update_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge JSON-serialisable metadata (user id, preferences...) into the session's."""
        self.store.update_metadata(self.session_id, metadata)

    async def aupdate_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Async :meth:`update_metadata`."""
        await self.store.aupdate_metadata(self.session_id, metadata)

    def info(self) -> SessionInfo | None:
        """Metadata, created/updated times, counts and TTL (None: no such session)."""
        return self.store.info(self.session_id)

    async def ainfo(self) -> SessionInfo | None:
        """Async :meth:`info`."""
        return await self.store.ainfo(self.session_id)

    def _removed(self, payload: bytes | None, index: int) -> BaseMessage | None:
        # Deleting is how a corrupt message gets removed: never raise for it here.
        if payload is None:
            return None
        decoded = decode_messages(self.session_id, [payload], "skip", start=index)
        return decoded[0] if decoded else None

    def _texts(self, messages: Sequence[BaseMessage]) -> list[str | None] | None:
        if not self.store.recall_enabled:
            return None
        return [str(m.text) or None for m in messages]


def _matching(messages: list[BaseMessage], query: str, limit: int) -> list[dict[str, Any]]:
    if not isinstance(query, str):
        raise ConfigError(f"query must be a str, got {type(query).__name__}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigError(f"limit must be an int >= 0, got {limit!r}")
    ranked = rank_texts(query, [str(m.text) for m in messages], limit)
    return [message_to_dict(messages[i])["data"] for i in ranked]


def _core_embedder(embedder: Any) -> Embedder:
    """A core :class:`Embedder` as is, or a LangChain ``Embeddings`` wrapped."""
    if isinstance(embedder, Embedder):
        return embedder
    from .embeddings import to_core_embedder

    return to_core_embedder(embedder)
