"""Copy chat histories written by langchain-redis's ``RedisChatMessageHistory`` or
``llama-index-storage-chat-store-redis``'s ``RedisChatStore`` into the pack's sessions.

- langchain-redis keeps one JSON document per message (``<prefix><session>:<ulid>``:
  ``type``, ``data``, ``session_id``, ``timestamp``) under a search index
  (``idx:chat_history``, prefix ``chat:``). Messages are grouped by session, ordered
  by timestamp and stored as ``{"type", "data"}``: LangChain's ``message_to_dict``
  form, which the pack's LangChain history reads.
- LlamaIndex's chat store keeps one list per chat key of ``ChatMessage`` JSON, the form
  the pack's LlamaIndex chat stores read: the lists are copied as they are.

Each session is written whole with :meth:`SessionStore.replace` (atomic, idempotent, and
only over a copy that is the start of the source's: ``extending``) and then recorded as
done, so an interrupted run resumes without duplicates. The peer's keys are never
modified.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from ..config import RedisAgentConfig, get_default_config
from ..errors import ConfigError, DataCorruptionError
from ..history import SessionStore
from ..redis_errors import DENIED, translate_errors
from ..search.executor import run
from ..search.lifecycle import list_flow, read_info
from ..search.replies import describe_info
from .vectors import PEERS, _glob, _scan_nodes, _str, described_index

__all__ = ["HistoryReport", "migrate_history"]

Progress = Callable[[int, int], None]


@dataclass
class HistoryReport:
    """The outcome of :func:`migrate_history` (``verified``: every session migrated holds
    as many messages as the source had)."""

    source: str
    sessions: int
    messages: int
    skipped_keys: int
    seconds: float
    resumed: bool
    verified: bool

    def to_dict(self) -> dict[str, Any]:
        rate = self.messages / self.seconds if self.seconds > 0 else 0.0
        return {**asdict(self), "messages_per_second": round(rate, 1)}


def _scan_batches(config: RedisAgentConfig, match: str, type_: str) -> Iterator[list[Any]]:
    """The keys matching ``match`` of type ``type_``, a SCAN batch at a time, on every
    primary of a cluster."""
    for name, node in _scan_nodes(config.get_client()).items():
        cursor = 0
        while True:
            with translate_errors(config, f"scanning {name or 'the server'} for {match!r}"):
                cursor, keys = node.scan(cursor, match=match, count=1000, _type=type_)
            yield keys
            if cursor == 0:
                break


def _history_prefixes(config: RedisAgentConfig, index: str) -> list[str]:
    """The key prefixes of langchain-redis's chat history index ``index``;
    :class:`ConfigError` when there is no such index or it is another one (a vector
    store's, an application's own): migrated, it gave 0 sessions, reported verified."""
    described = described_index(
        config, index, "langchain-redis",
        "pass the history's index name (RedisChatMessageHistory's index_name) or its key prefix",
    )  # fmt: skip
    session = described["fields"].get("session_id", {})
    if described["storage"] != "json" or session.get("path") != "$.session_id":
        fields = ", ".join(sorted(described["fields"])) or "none"
        raise ConfigError(
            f"index {index!r} is not a langchain-redis chat history index (that one holds "
            f"JSON messages with a session_id field at $.session_id; this one: "
            f"{described['storage'] or 'unknown'} documents, fields {fields}). Nothing was "
            "migrated; pass the history's index (RedisChatMessageHistory's index_name, "
            "idx:chat_history by default: FT._LIST lists the indexes) or its key prefix"
        )
    return list(described["prefixes"])


def _langchain_sessions(
    config: RedisAgentConfig, index: str, key_prefix: str | None
) -> tuple[dict[str, list[bytes]], int]:
    """Every session's messages as ``message_to_dict`` JSON, oldest first, and how many
    JSON documents under the prefixes are no message (no ``session_id`` or ``data``)."""
    client = config.get_client()
    prefixes = _history_prefixes(config, index) if key_prefix is None else [key_prefix]
    under = _nested_indexes(config, prefixes, index if key_prefix is None else None)
    found: dict[str, list[tuple[float, str, bytes]]] = {}
    skipped = 0
    for prefix in prefixes:
        for keys in _scan_batches(config, _glob(prefix) + "*", "ReJSON-RL"):
            with translate_errors(config, "reading langchain-redis messages"):
                pipe = client.pipeline(transaction=False)
                for key in keys:
                    pipe.execute_command("JSON.GET", key, "$")
                replies = pipe.execute() if keys else []
            for key, reply in zip(keys, replies, strict=True):
                docs = orjson.loads(reply) if reply else []
                doc = docs[0] if docs else None
                if not isinstance(doc, dict) or "session_id" not in doc or "data" not in doc:
                    skipped += 1
                    continue
                _check_nested(_str(key), prefix, under)
                session_id, stamp = _checked_message(_str(key), doc)
                payload = orjson.dumps({"type": doc.get("type"), "data": doc["data"]})
                entry = (stamp, str(doc.get("message_id", "")), payload)
                found.setdefault(session_id, []).append(entry)
    if skipped and not found:
        where = f"index {index!r}" if key_prefix is None else f"prefix {key_prefix!r}"
        raise ConfigError(
            f"no langchain-redis chat message under {where}: its {skipped} JSON "
            "document(s) have no session_id or data (another application's?). Nothing was "
            "migrated; pass the history's key prefix (RedisChatMessageHistory's "
            "key_prefix, chat: by default) or its index"
        )
    return {sid: [p for _, _, p in sorted(rows)] for sid, rows in found.items()}, skipped


def _nested_indexes(
    config: RedisAgentConfig, prefixes: list[str], own: str | None
) -> dict[str, str]:
    """``{prefix: index}`` of the other search indexes whose key prefix lies under one
    of ``prefixes`` (``"chat"`` and ``"chat:x"``): another history's messages, which a
    SCAN of the shorter prefix reads too. Indexes this user may not list or read are
    skipped (a confined user's keys are its own)."""
    client = config.get_client()
    with translate_errors(config, "listing the search indexes"):
        try:
            names = run(client.execute_command, list_flow())
        except DENIED:
            return {}
    under: dict[str, str] = {}
    for name in names:
        if name == own:
            continue
        try:
            info = read_info(config, name, f"reading the search index {name!r}")
        except DENIED:
            continue
        for theirs in describe_info(info)["prefixes"] if info is not None else ():
            if any(theirs != p and theirs.startswith(p) for p in prefixes):
                under.setdefault(theirs, name)
    return under


def _check_nested(key: str, prefix: str, under: Mapping[str, str]) -> None:
    """:class:`ConfigError` for a message found under ``prefix`` that also lies under
    another history's longer prefix: whose message it is cannot be told (the peer's
    own indexes both hold it), and migrating it merged the two histories' sessions
    with no word."""
    for theirs, name in under.items():
        if key.startswith(theirs):
            raise ConfigError(
                f"langchain-redis message {key!r} lies under {prefix!r} and under "
                f"{theirs!r}, the prefix of index {name!r}: one prefix starts with the "
                "other, so the two histories' messages cannot be told apart and would be "
                "merged into one namespace. Nothing was migrated; move one history to a "
                "prefix that is not the start of the other's (e.g. 'chat-a:' and "
                "'chat-b:'), or delete the other's messages if they belong together"
            )


def _checked_message(key: str, doc: Mapping[str, Any]) -> tuple[str, float]:
    """``(session id, timestamp)`` of a langchain-redis message document, or
    :class:`DataCorruptionError` naming its key (raised while reading, before anything
    is written): a null session id was migrated into a session named ``"None"``, and a
    timestamp that is not a number stopped the run with a bare ``ValueError``."""
    session_id, stamp = doc["session_id"], doc.get("timestamp") or 0
    data, kind = doc["data"], doc.get("type")
    if isinstance(session_id, (int, float)) and not isinstance(session_id, bool):
        session_id = str(session_id)  # a number given as the session id: its text
    if not isinstance(session_id, str) or not session_id:
        problem = f"its session_id is {session_id!r}, not a non-empty str"
    elif not isinstance(data, dict):  # migrated, it raised on every read of the session
        problem = f"its data is {_short(data)}, not a message's fields"
    elif not isinstance(kind, str) or not kind:
        problem = f"its type is {_short(kind)}, not a message type"
    elif isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        problem = f"its timestamp is {stamp!r}, not a number"
    else:
        return session_id, float(stamp)
    raise DataCorruptionError(
        f"langchain-redis message {key!r} is damaged ({problem}); nothing was migrated. "
        "Fix or delete it in the source, then run the migration again"
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_chat_message(payload: Any) -> bool:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return False
    return isinstance(value, dict) and "role" in value


def _llama_sessions(config: RedisAgentConfig, pattern: str) -> tuple[dict[str, list[bytes]], int]:
    """Every chat key's list (keys of the pack's namespace left out) and how many lists
    matched but hold something else than chat messages."""
    client = config.get_client()
    own = f"{config.namespace}:"
    sessions: dict[str, list[bytes]] = {}
    skipped = 0
    for found in _scan_batches(config, pattern, "list"):
        keys = [k for k in found if not _str(k).startswith(own)]
        with translate_errors(config, "reading LlamaIndex chat lists"):
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.lrange(key, 0, -1)
            replies = pipe.execute() if keys else []
        for key, payloads in zip(keys, replies, strict=True):
            if payloads and all(_is_chat_message(p) for p in payloads):
                sessions[_str(key)] = list(payloads)
            else:
                skipped += 1
    return sessions, skipped


#: Sessions read in one pipeline (the pack's copies before, their lengths after)
_PAGE = 100


def _read_pages(
    config: RedisAgentConfig, command: str, session_ids: list[str], action: str
) -> Iterator[tuple[str, Any]]:
    """``(session, reply)`` of ``command`` (``LRANGE`` of every active message, or
    ``LLEN``) on each session's message list, in order: a pipeline per :data:`_PAGE`
    sessions, not a round trip each (2,000 sessions: 20, not 2,000)."""
    client = config.get_client()
    tail = (0, -1) if command == "LRANGE" else ()
    for start in range(0, len(session_ids), _PAGE):
        page = session_ids[start : start + _PAGE]
        with translate_errors(config, action):
            pipe = client.pipeline(transaction=False)
            for session_id in page:
                pipe.execute_command(command, config.keys.history_messages(session_id), *tail)
            replies = pipe.execute()
        yield from zip(page, replies, strict=True)


def _check_no_newer_messages(config: RedisAgentConfig, sessions: Mapping[str, list[bytes]]) -> None:
    """:class:`ConfigError`, before anything is written, naming the sessions of the pack
    that hold messages their source does not: each session is replaced whole, so a
    second run (after the application moved to the pack and went on writing) replaced
    those messages by the source's older copy, and reported the run verified. A session
    that is missing, or holds the start of its source (an earlier run's copy, the peer
    having gone on), is migrated."""
    conflicts = []
    for session_id, held in _read_pages(config, "LRANGE", sorted(sessions), "read history"):
        payloads = sessions[session_id]
        if held and [bytes(p) for p in payloads[: len(held)]] != [bytes(h) for h in held]:
            conflicts.append(f"{session_id!r} ({len(held)} messages)")
    if conflicts:
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise ConfigError(
            f"{len(conflicts)} session(s) of the pack hold messages their source does not: "
            f"{', '.join(conflicts[:5])}{more}; migrating replaces a session whole, so "
            "they would be lost. Nothing was migrated. Migrate into another namespace "
            "(--namespace), or delete those sessions in the pack if the source's copy "
            "should win"
        )


def migrate_history(
    *,
    peer: str,
    config: RedisAgentConfig | None = None,
    index: str = "idx:chat_history",
    key_prefix: str | None = None,
    keys: str | None = None,
    ttl: int | None = None,
    progress: Progress | None = None,
    max_sessions: int | None = None,
) -> HistoryReport:
    """Copy a peer's chat histories into the pack's sessions of ``config``'s namespace.

    langchain-redis: the history index ``index`` (or the messages under ``key_prefix``).
    llama-index: the chat lists whose keys match the glob ``keys`` (required: the peer
    keeps them at the user's own keys, beside anything else). ``ttl``: seconds of
    inactivity before a migrated session expires (default: the config's).
    ``max_sessions`` stops after that many (a partial, resumable run)."""
    if peer not in PEERS:
        raise ConfigError(f"unknown source {peer!r}: use one of {', '.join(PEERS)}")
    config = config or get_default_config()
    started = time.perf_counter()
    skipped = 0
    if peer == "langchain-redis":
        sessions, skipped = _langchain_sessions(config, index, key_prefix)
        origin = f"{peer}:{key_prefix or index}"
    else:
        if not keys:
            raise ConfigError(
                "llama-index chat stores keep each chat at the application's own key: pass "
                "keys= (a glob such as 'user:*') naming them"
            )
        sessions, skipped = _llama_sessions(config, keys)
        origin = f"{peer}:{keys}"
    store = SessionStore(config) if ttl is None else SessionStore(config, ttl=ttl)
    client = config.get_client()
    done_key = config.keys.migration("history", origin)
    with translate_errors(config, "reading the migration state"):
        done = {_str(s) for s in client.smembers(done_key)}
    resumed = bool(done)
    _check_no_newer_messages(config, {s: p for s, p in sessions.items() if s not in done})
    total = sum(len(p) for p in sessions.values())
    copied = sum(len(sessions[s]) for s in done if s in sessions)
    count = 0
    for session_id, payloads in sorted(sessions.items()):
        if session_id in done:
            continue
        if max_sessions is not None and count >= max_sessions:
            break
        # extending: the application may write to the pack's session while this runs;
        # checked above but replaced whole, such a message was lost (run verified)
        if store.replace(session_id, payloads, extending=True) == -1:
            raise ConfigError(
                f"session {session_id!r} of the pack received messages its source does not "
                "hold while the migration ran (the application writes to the pack): it was "
                "left as it is, since replacing it would lose them. The sessions before it "
                f"were migrated ({count} in this run) and recorded, so running the command "
                "again resumes after them. For this session: migrate into another namespace "
                "(--namespace), or delete it in the pack if the source's copy should win"
            )
        with translate_errors(config, "saving the migration state"):
            client.sadd(done_key, session_id)
        count += 1
        copied += len(payloads)
        if progress is not None:
            progress(copied, total)
    finished = len(done & sessions.keys()) + count == len(sessions)
    verified = finished and all(
        int(n) == len(sessions[session_id])
        for session_id, n in _read_pages(config, "LLEN", list(sessions), "count messages")
    )
    if finished:
        with translate_errors(config, "clearing the migration state"):
            client.delete(done_key)
    return HistoryReport(
        source=origin, sessions=len(sessions), messages=copied, skipped_keys=skipped,
        seconds=time.perf_counter() - started, resumed=resumed, verified=verified,
    )  # fmt: skip
