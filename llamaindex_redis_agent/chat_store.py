"""LlamaIndex chat stores on the Redis session store.

- :class:`RedisChatStore` implements ``BaseChatStore`` (sync methods and native
  async ``a...`` forms) for ``ChatMemoryBuffer`` and chat engines.
- :class:`RedisAsyncChatStore` implements ``AsyncDBChatStore`` (async methods with the
  same names, so it must be a second class) for the newer ``Memory``: active and
  archived messages, limit/offset, archiving the oldest.

Messages are stored as ``ChatMessage.model_dump_json()``, the same form as the
``llama-index-storage-chat-store-redis`` package, in order (that package reverses the
list when it deletes by index). Keys are the sessions: ``get_keys`` reads the store's
session index, never ``KEYS``.
"""

from __future__ import annotations

import copy
import datetime
import logging
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, SchemaValidator

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import Embedder
from redis_agent_core.errors import ConfigError
from redis_agent_core.history import (
    ACTIVE,
    ARCHIVED,
    SessionInfo,
    SessionStore,
    Status,
    corrupt_message_error,
    slice_both,
)
from redis_agent_core.jsonvalues import check_finite, check_no_native
from redis_agent_core.migrate import peer_config

__all__ = ["RedisAsyncChatStore", "RedisChatStore", "decode_messages", "encode_messages"]

log = logging.getLogger(__name__)

OnCorrupt = Literal["raise", "skip"]


def encode_messages(messages: Sequence[ChatMessage]) -> list[bytes]:
    """Messages as JSON payloads (the bytes of ``model_dump_json``)."""
    if isinstance(messages, ChatMessage):
        # iterated, a message is its (field, value) pairs: "message 0 is a tuple"
        raise ConfigError(
            f"messages must be a list of messages, got one {type(messages).__name__}; "
            "pass a list: [message] (or call add_message)"
        )
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, ChatMessage):
            raise ConfigError(
                f"message {i} is a {type(message).__name__}, not a LlamaIndex ChatMessage"
            )
        data = _text_json(message)
        if data is None:
            what = f"message {i} ({message.role.value})"
            _check_own_values(message, what)
            try:
                data = type(message).__pydantic_serializer__.to_json(message)
            except PydanticSerializationError as exc:  # e.g. a lone surrogate in a text
                raise ConfigError(
                    f"{what} cannot be stored as JSON ({exc}); a lone surrogate comes from "
                    "text decoded with surrogateescape: decode it properly (nothing was "
                    "written)"
                ) from exc
            if b"null" in data:  # pydantic writes a NaN or an infinity as null
                check_finite(message.model_dump(), what)
        out.append(data)
    return out


def _check_own_values(message: ChatMessage, what: str) -> None:
    """Refuse a datetime, date or time among the user's own values (``additional_kwargs``,
    extra fields): pydantic writes it as an ISO str, which reads back as a str. The
    LangChain adapter refuses it the same way. A UUID or an Enum too (pydantic writes its
    str / its value)."""
    check_no_native(message.additional_kwargs, f"{what} additional_kwargs")
    if message.__pydantic_extra__:
        check_no_native(message.__pydantic_extra__, f"{what} extra fields")
    stack: list[Any] = [message.additional_kwargs, message.__pydantic_extra__]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, (datetime.date, datetime.time)):
            raise ConfigError(
                f"{what} holds {item!r}, which would read back as an ISO str: convert it "
                "with .isoformat() (nothing was written)"
            )


_ROLE_JSON = {role: b'{"role":%s,"additional_kwargs":{},"blocks":[' % orjson.dumps(role.value)
              for role in MessageRole}  # fmt: skip


def _text_json(message: ChatMessage) -> bytes | None:
    """``model_dump_json()``'s bytes for the common shape (text blocks, no
    additional_kwargs), written with orjson; ``None`` for anything else. On an append
    path pydantic's serializer costs ~9 us a message (cold, between round trips), this
    ~2 us; tests/history/test_fast_decode.py checks both agree byte for byte."""
    if type(message) is not ChatMessage or message.additional_kwargs or message.__pydantic_extra__:
        return None
    head = _ROLE_JSON.get(message.role)
    if head is None:
        return None
    parts = []
    for block in message.blocks:
        if type(block) is not TextBlock or block.__pydantic_extra__ or block.block_type != "text":
            return None
        try:
            parts.append(b'{"block_type":"text","text":%s}' % orjson.dumps(block.text))
        except TypeError:  # not a str, or a lone surrogate: pydantic says what it says
            return None
    return head + b",".join(parts) + b"]}"


def _common_shape_validator() -> SchemaValidator | None:
    """A validator for the common stored shape, cut from ``ChatMessage``'s own schema.

    It is LlamaIndex's schema for the class with three narrowings: extra keys are
    refused, ``blocks`` accepts only the text block (its own ``TextBlock`` schema
    behind the same ``block_type`` tag), and the model is built directly instead of
    through ``ChatMessage.__init__`` (which validates the parsed dict a second time)
    and the after-validator (it only acts on a legacy ``images`` entry; such messages
    take the full path). About twice as fast as the full schema; any other shape
    fails it and is validated by ``ChatMessage.model_validate_json``. ``None`` when
    the installed LlamaIndex's schema is not laid out as expected: then every
    message is validated in full.
    """
    try:
        # a plain nested dict: walked and narrowed by key (checked below)
        schema: Any = copy.deepcopy(ChatMessage.__pydantic_core_schema__)
        model = schema["schema"] if schema["type"] == "function-after" else schema
        fields = model["schema"]["fields"]
        union = fields["blocks"]["schema"]["schema"]["items_schema"]
        decorators = ChatMessage.__pydantic_decorators__
        if not (
            model["type"] == "model"
            and model["cls"] is ChatMessage
            and set(fields) == {"role", "additional_kwargs", "blocks"}
            and set(decorators.model_validators) == {"legacy_additional_kwargs_image"}
            and not (decorators.field_validators or decorators.validators)
            and not (decorators.root_validators or ChatMessage.__private_attributes__)
            and ChatMessage.__pydantic_post_init__ is None
            and union["type"] == "tagged-union"
            and union["discriminator"] == "block_type"
            and union["choices"]["text"]["cls"] is TextBlock
        ):
            return None
        model["custom_init"] = False
        model["schema"]["extra_behavior"] = "forbid"
        union["choices"] = {"text": union["choices"]["text"]}
        return SchemaValidator(model)
    except Exception:  # pragma: no cover - a LlamaIndex or pydantic-core we do not know
        log.debug("common-shape fast path off", exc_info=True)
        return None


_COMMON = _common_shape_validator()
_validate_json = ChatMessage.model_validate_json


def decode_messages(
    key: str,
    payloads: Sequence[bytes | str],
    on_corrupt: OnCorrupt = "raise",
    *,
    start: int = 0,
    status: Status = ACTIVE,
    fast: bool = True,
) -> list[ChatMessage]:
    """Payloads back to messages, each equal to ``ChatMessage.model_validate_json``'s.

    Every payload is validated by pydantic: first against a schema of the common
    shape (text blocks; :func:`_common_shape_validator`, about twice as fast as the
    full schema), and if it is any other shape (images, audio, documents, tool calls,
    thinking, extra fields...) against LlamaIndex's full schema. A payload that fails
    both raises :class:`DataCorruptionError` naming the key and index (``start``
    offsets it), or is skipped with ``on_corrupt="skip"``. ``fast=False``: full
    schema only (what the tests compare with).
    """
    common = _COMMON.validate_json if fast and _COMMON is not None else None
    if common is not None:
        try:  # the usual case: every payload has the common shape
            out = [common(payload) for payload in payloads]
        except ValidationError:
            pass
        else:
            if not any("images" in m.additional_kwargs for m in out):
                return out
    full = _validate_json
    out = []
    append = out.append
    for i, payload in enumerate(payloads):
        if common is not None:
            try:
                message = common(payload)
                if "images" not in message.additional_kwargs:  # legacy: full path
                    append(message)
                    continue
            except ValidationError:
                pass
        try:
            append(full(payload))
        except Exception as exc:
            error = corrupt_message_error(key, start + i, exc, status)
            if on_corrupt == "raise":
                raise error from exc
            log.warning("%s (skipped)", error)
    return out


def _build_store(
    config: RedisAgentConfig | None,
    ttl: Any,
    max_messages: int | None,
    embedder: Any,
    store: SessionStore | None,
) -> SessionStore:
    if store is not None:
        return store
    options: dict[str, Any] = {"max_messages": max_messages}
    if ttl is not ...:
        options["ttl"] = ttl
    if embedder is not None:
        if not isinstance(embedder, Embedder):
            from .embeddings import to_core_embedder

            embedder = to_core_embedder(embedder)
        options["embedder"] = embedder
    return SessionStore(config, **options)


def _texts(store: SessionStore, messages: Sequence[ChatMessage]) -> list[str | None] | None:
    if not store.recall_enabled:
        return None
    return [m.content or None for m in messages]


def _removed(key: str, payload: bytes | None) -> ChatMessage | None:
    # Deleting is how a corrupt message gets removed: never raise for it here.
    if payload is None:
        return None
    decoded = decode_messages(key, [payload], "skip")
    return decoded[0] if decoded else None


def _status(status: MessageStatus | str | None) -> Status | None:
    if status is None:
        return None
    value = status.value if isinstance(status, MessageStatus) else status
    if value not in (ACTIVE, ARCHIVED):
        raise ConfigError(f"status must be MessageStatus.ACTIVE or ARCHIVED, got {status!r}")
    return value


def _no_insert(key: str, idx: int) -> None:
    """Refuse SimpleChatStore's ``add_message(..., idx=)``: a session is a Redis list
    that is only appended to atomically (an insert would race with other writers)."""
    raise ConfigError(
        f"RedisChatStore cannot insert a message at a position (key {key!r}, idx={idx!r}): "
        "messages are only appended, atomically. Omit idx to append, or read "
        "get_messages(key), insert into that list and write it back with "
        "set_messages(key, messages) (nothing was written)"
    )


def _check_on_corrupt(on_corrupt: str) -> None:
    if on_corrupt not in ("raise", "skip"):
        raise ConfigError(f"on_corrupt must be 'raise' or 'skip', got {on_corrupt!r}")


class RedisChatStore(BaseChatStore):
    """LlamaIndex ``BaseChatStore`` in Redis: one session per key, sync and async.

    Args:
        config: connection and namespace (``None``: the process default).
        ttl: seconds of inactivity before a key's messages expire (sliding).
        max_messages: keep only the newest messages of each key.
        embedder: turn on semantic recall (:meth:`relevant`); a core ``Embedder`` or
            a LlamaIndex embedding model.
        on_corrupt: ``"raise"`` or ``"skip"`` stored messages that cannot be decoded.
        store: share an existing :class:`SessionStore`.
        redis_url, redis_client, aredis_client: the server, as
            llama-index-storage-chat-store-redis takes it.

    Example::

        store = RedisChatStore(ttl=3600)
        memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="user-42")
    """

    on_corrupt: OnCorrupt = Field(default="raise", description="'raise' or 'skip' bad messages")
    _store: SessionStore = PrivateAttr()

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        ttl: int | None = ...,  # type: ignore[assignment]
        max_messages: int | None = None,
        embedder: Any = None,
        on_corrupt: OnCorrupt = "raise",
        store: SessionStore | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        aredis_client: Any = None,
    ) -> None:
        _check_on_corrupt(on_corrupt)
        # pydantic: ``on_corrupt`` is a field of this subclass, unknown to the base's signature
        super().__init__(on_corrupt=on_corrupt)  # type: ignore[call-arg]
        config = peer_config(
            type(self).__name__, config=config, redis_url=redis_url,
            redis_client=redis_client, redis_client_async=aredis_client,
        )  # fmt: skip
        self._store = _build_store(config, ttl, max_messages, embedder, store)

    @classmethod
    def class_name(cls) -> str:
        return "RedisAgentChatStore"

    @property
    def store(self) -> SessionStore:
        """The core session store underneath."""
        # Straight from pydantic's private dict: ``self._store`` goes through
        # BaseModel.__getattr__, ~5 us a read (a failed hasattr on its descriptor).
        return self.__pydantic_private__["_store"]  # type: ignore[index]

    def _decode(self, key: str, payloads: Sequence[bytes], start: int = 0) -> list[ChatMessage]:
        return decode_messages(key, payloads, self.on_corrupt, start=start)

    def _one(self, key: str, payload: bytes | None) -> ChatMessage | None:
        return _removed(key, payload)

    # -- sync --
    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the key's messages atomically."""
        self.store.replace(key, encode_messages(messages), texts=_texts(self.store, messages))

    def get_messages(self, key: str) -> list[ChatMessage]:
        """All messages of ``key``, oldest first (one round trip)."""
        return self._decode(key, self.store.read(key))

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append one message (refreshes the TTL, trims to ``max_messages``); ``idx``
        (SimpleChatStore's insert at a position) raises :class:`ConfigError`."""
        if idx is not None:
            _no_insert(key, idx)
        store = self.store
        store.append(key, encode_messages([message]), texts=_texts(store, [message]))

    def add_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Append several messages in one atomic round trip."""
        if messages:
            self.store.append(key, encode_messages(messages), texts=_texts(self.store, messages))

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete the key (session) and return its messages."""
        _, active = self.store.clear(key, return_messages=True)
        return self._decode(key, active)

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the message at ``idx`` keeping the order of the others; return it."""
        return self._one(key, self.store.delete_at(key, idx))

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Delete and return the newest message."""
        return self._one(key, self.store.pop_last(key))

    def get_keys(self) -> list[str]:
        """Live keys (sessions), newest activity first, from the session index."""
        return self.store.sessions()

    # -- async --
    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        await self.store.areplace(
            key, encode_messages(messages), texts=_texts(self.store, messages)
        )

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        return self._decode(key, await self.store.aread(key))

    async def async_add_message(
        self, key: str, message: ChatMessage, idx: int | None = None
    ) -> None:
        if idx is not None:
            _no_insert(key, idx)
        store = self.store
        await store.aappend(key, encode_messages([message]), texts=_texts(store, [message]))

    async def aadd_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Async :meth:`add_messages`."""
        if messages:
            await self.store.aappend(
                key, encode_messages(messages), texts=_texts(self.store, messages)
            )

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        _, active = await self.store.aclear(key, return_messages=True)
        return self._decode(key, active)

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        return self._one(key, await self.store.adelete_at(key, idx))

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        return self._one(key, await self.store.apop_last(key))

    async def aget_keys(self) -> list[str]:
        return await self.store.asessions()

    # -- extras --
    def get_last_messages(self, key: str, n: int, *, offset: int = 0) -> list[ChatMessage]:
        """The newest ``n`` messages after skipping the newest ``offset``, oldest first."""
        payloads = self.store.last(key, n, offset=offset)
        # a bad one is named by its index from the end, which delete_message accepts
        return self._decode(key, payloads, -offset - len(payloads))

    async def aget_last_messages(self, key: str, n: int, *, offset: int = 0) -> list[ChatMessage]:
        """Async :meth:`get_last_messages`."""
        payloads = await self.store.alast(key, n, offset=offset)
        return self._decode(key, payloads, -offset - len(payloads))

    def relevant(self, key: str, query: str, k: int = 4) -> list[ChatMessage]:
        """Past messages most similar to ``query`` (needs ``embedder=``)."""
        return self._decode(key, [h.payload for h in self.store.relevant(key, query, k)])

    async def arelevant(self, key: str, query: str, k: int = 4) -> list[ChatMessage]:
        """Async :meth:`relevant`."""
        hits = await self.store.arelevant(key, query, k)
        return self._decode(key, [h.payload for h in hits])

    def info(self, key: str) -> SessionInfo | None:
        """Metadata, times, counts and TTL of a key (None: no such key)."""
        return self.store.info(key)


class RedisAsyncChatStore(AsyncDBChatStore):
    """LlamaIndex ``AsyncDBChatStore`` in Redis, for ``Memory.from_defaults(chat_store=...)``.

    Active messages are the FIFO queue; ``archive_oldest_messages`` moves the oldest
    to the key's archive (kept, same TTL). ``delete_message(key, idx)`` takes the index
    in the active list. Arguments as :class:`RedisChatStore`.
    """

    on_corrupt: OnCorrupt = Field(default="raise", description="'raise' or 'skip' bad messages")
    _store: SessionStore = PrivateAttr()

    def __init__(
        self,
        config: RedisAgentConfig | None = None,
        *,
        ttl: int | None = ...,  # type: ignore[assignment]
        max_messages: int | None = None,
        embedder: Any = None,
        on_corrupt: OnCorrupt = "raise",
        store: SessionStore | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        aredis_client: Any = None,
    ) -> None:
        _check_on_corrupt(on_corrupt)
        # pydantic: ``on_corrupt`` is a field of this subclass, unknown to the base's signature
        super().__init__(on_corrupt=on_corrupt)  # type: ignore[call-arg]
        config = peer_config(
            type(self).__name__, config=config, redis_url=redis_url,
            redis_client=redis_client, redis_client_async=aredis_client,
        )  # fmt: skip
        self._store = _build_store(config, ttl, max_messages, embedder, store)

    @classmethod
    def class_name(cls) -> str:
        return "RedisAgentAsyncChatStore"

    @property
    def store(self) -> SessionStore:
        """The core session store underneath."""
        # Straight from pydantic's private dict: ``self._store`` goes through
        # BaseModel.__getattr__, ~5 us a read (a failed hasattr on its descriptor).
        return self.__pydantic_private__["_store"]  # type: ignore[index]

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """Messages of ``key`` with ``status`` (None: archived then active), oldest
        first, after skipping ``offset`` and up to ``limit``."""
        which = _status(status)
        for name, value in (("limit", limit), ("offset", offset)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ConfigError(f"{name} must be an int >= 0 or None, got {value!r}")
        start = offset or 0
        if which is None:
            archived, active = await self.store.aread_all_statuses(key)
            payloads = slice_both(archived, active, offset, limit)
            return decode_messages(key, payloads, self.on_corrupt, start=start)
        if limit == 0:
            return []
        stop = -1 if limit is None else start + limit - 1
        payloads = await self.store.aread(key, start, stop, status=which)
        return decode_messages(key, payloads, self.on_corrupt, start=start, status=which)

    async def count_messages(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        which = _status(status)
        if which is None:
            info = await self.store.ainfo(key)
            return 0 if info is None else info.message_count + info.archived_count
        return await self.store.acount(key, status=which)

    async def add_message(
        self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        await self.add_messages(key, [message], status)

    async def add_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        which = _status(status) or ACTIVE
        if messages:
            await self.store.aappend(
                key, encode_messages(messages), texts=_texts(self.store, messages), status=which
            )

    async def set_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        which = _status(status) or ACTIVE
        await self.store.areplace(
            key, encode_messages(messages), texts=_texts(self.store, messages), status=which
        )

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        return _removed(key, await self.store.adelete_at(key, idx))

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        which = _status(status)
        await self.store.aclear(key, which="all" if which is None else which)

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        payloads = await self.store.atake_oldest(key, n)
        return decode_messages(key, payloads, self.on_corrupt)

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        payloads = await self.store.atake_oldest(key, n, archive=True)
        return decode_messages(key, payloads, self.on_corrupt)

    async def get_keys(self) -> list[str]:
        return await self.store.asessions()
