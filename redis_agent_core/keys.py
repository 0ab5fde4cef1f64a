"""Every Redis key the pack writes, in one place.

Layout: ``<namespace>:<role>:...``. Keys that one command or Lua script touches
together share a hash tag (``{...}``) so they land in the same Redis Cluster slot.
User-supplied parts (session ids, user ids, cache names) are escaped so that a
``{`` or ``}`` inside them can never change which slot a key maps to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from .errors import ConfigError

# \Z, not $: $ also matches before a final newline, so 'name\n' passed
_NAMESPACE_RE = re.compile(r"\A[A-Za-z0-9_.\-]{1,64}\Z")


def check_text(text: str, what: str) -> str:
    """``text`` if it can be sent as UTF-8; a lone surrogate (e.g. from a bad decode
    with ``surrogateescape``) raises :class:`ConfigError` naming where it is."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise surrogate_error(text, what, exc) from None
    return text


def check_texts(texts: Iterable[str], what: str) -> None:
    """:func:`check_text` over many texts (≈ 1 ms per 20k ASCII texts: an encode of
    the joined texts cost ≈ 13 ms, ≈ 3 % of a FLAT ingest)."""
    texts = texts if isinstance(texts, list) else list(texts)
    try:
        if all(map(str.isascii, texts)):
            return
    except TypeError:
        pass  # non-str items: the type checks of the caller name them
    for i, text in enumerate(texts):
        if isinstance(text, str) and not text.isascii():
            check_text(text, f"{what} #{i}")


def as_list(values: Iterable[Any], what: str) -> list[Any]:
    """``values`` (ids, texts, thread ids) as a list; a ``str`` or ``bytes`` given where a
    list belongs raises :class:`ConfigError` naming the fix. Iterated, ``"abc"`` was the
    three ids ``"a"``, ``"b"``, ``"c"``: ``delete("abc")`` deleted those documents and
    left ``"abc"``, ``get("abc")`` returned them, ``prune("abc")`` pruned those threads."""
    if isinstance(values, (str, bytes)):
        raise ConfigError(
            f"{what} must be a list, got a {type(values).__name__} ({values!r:.80}), which "
            f"would be read one character at a time; pass a list: [{values!r:.80}]"
        )
    return values if isinstance(values, list) else list(values)


#: What :func:`slot_guard` appends to a key's hash tag (no role writes such a key).
_SLOT_GUARD = b":slot-guard"


def slot_guard(key: str | bytes) -> bytes:
    """A key that is never written, in the hash slot of ``key`` (whose hash tag it keeps).

    A Lua script that reads keys it cannot declare (their names come from data it reads:
    an index's members, a count) declares this one too, so that Redis refuses it with
    TRYAGAIN while the slot moves between cluster nodes (a declared key missing). Else the
    importing node, asked with ASKING, runs it and answers for keys still on the other
    node as if they did not exist: the script unindexed live items, left entries
    uncleared. Outside a move a missing declared key changes nothing."""
    raw = key.encode() if isinstance(key, str) else key
    start = raw.find(b"{")
    end = raw.find(b"}", start + 1)
    if start < 0 or end <= start + 1:
        raise ValueError(f"slot_guard needs a key with a hash tag, got {key!r}")
    return raw[: end + 1] + _SLOT_GUARD


def check_store_name(name: object, what: str) -> str:
    """``name`` of a cache or store if it is a non-empty str without a NUL, else
    :class:`ConfigError`. RediSearch reads index names and key prefixes as C strings,
    cut at a NUL: semantic cache ``"acme\\x00x"`` searched an index over every cache
    whose name starts with ``acme`` and was served their entries."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{what} must be a non-empty str, got {name!r}")
    if "\x00" in name:
        raise ConfigError(
            f"{what} {name!r} holds a NUL character at position {name.index(chr(0))}: "
            "RediSearch cuts index names and key prefixes there, so it would read another "
            "name's entries; remove it"
        )
    return name


def surrogate_error(text: str, what: str, exc: UnicodeEncodeError) -> ConfigError:
    """The :class:`ConfigError` for ``text`` that failed to encode at ``exc.start``."""
    return ConfigError(
        f"{what} holds a lone surrogate {text[exc.start]!r} at position {exc.start}, "
        "which is not valid Unicode and cannot be stored; decode the source with "
        "errors='replace' or drop the character"
    )


def escape_part(part: str, what: str = "an id or name") -> str:
    """Escape a user-supplied key part: ``%``, ``{``, ``}`` and ``:`` are percent-encoded.

    The mapping is injective, so two different ids never share a key; the result
    contains no braces, so it cannot open or close a hash tag, and no ``:``, so one
    name can never be a key prefix of another (cache ``"a"`` vs ``"a:e:x"``).
    """
    if not isinstance(part, str):
        raise ConfigError(f"key parts must be str, got {type(part).__name__}: {part!r}")
    check_text(part, what)
    return part.replace("%", "%25").replace("{", "%7B").replace("}", "%7D").replace(":", "%3A")


def unescape_part(part: str) -> str:
    """Inverse of :func:`escape_part`."""
    return part.replace("%3A", ":").replace("%7D", "}").replace("%7B", "{").replace("%25", "%")


def validate_namespace(namespace: str) -> str:
    """Return ``namespace`` if it is a safe key prefix, else raise :class:`ConfigError`."""
    if not isinstance(namespace, str) or not _NAMESPACE_RE.match(namespace):
        raise ConfigError(
            f"invalid namespace {namespace!r}: use 1-64 characters from letters, digits, "
            "'_', '.', '-' (it prefixes every key and index name)"
        )
    return namespace


class IndexKeys(NamedTuple):
    """Where one search index that may pick its own algorithm lives: ``name`` (the name
    queries use: an alias when the index picks itself), the FLAT and HNSW indexes that
    may stand behind it, the lock held while one process builds the next one, and the
    hash of its tuning and last trial."""

    name: str
    flat: str
    hnsw: str
    lock: str
    state: str

    def variant(self, algorithm: str) -> str:
        """The index built with ``algorithm`` behind the alias."""
        return self.flat if algorithm == "flat" else self.hnsw


class KeySpace:
    """Key patterns for one namespace. Pure: builds strings, touches no server."""

    def __init__(self, namespace: str = "rap") -> None:
        self.namespace = validate_namespace(namespace)

    def __repr__(self) -> str:
        return f"KeySpace({self.namespace!r})"

    def _join(self, *parts: str) -> str:
        return ":".join((self.namespace, *parts))

    def pattern(self) -> str:
        """Glob matching every key of this namespace (for tests and admin tools only)."""
        return f"{self.namespace}:*"

    # -- role 1: LLM cache (search-indexed: entries spread over slots on purpose) --
    def cache_index(self, name: str) -> str:
        """Search index name of cache ``name``."""
        return self._join("cache", escape_part(name), "idx")

    def cache_index_keys(self, name: str) -> IndexKeys:
        """The names of semantic cache ``name``'s index: :meth:`cache_index` (an alias
        when the cache picks its own algorithm), the FLAT and HNSW indexes behind it,
        the lock held while one is built and the hash of the last trial and tuning."""
        head = self._join("cache", escape_part(name))
        index = self.cache_index(name)
        return IndexKeys(index, index + ":flat", index + ":hnsw", head + ":switch",
                         head + ":recall")  # fmt: skip

    def cache_prefix(self, name: str) -> str:
        """Key prefix of the entries of cache ``name`` (ends with ``:``)."""
        return self._join("cache", escape_part(name), "e") + ":"

    def cache_stats(self, name: str) -> str:
        """Hash of shared hit/miss/token counters of cache ``name`` (unbucketed)."""
        return self._join("cache", escape_part(name), "stats")

    def _cache_tag(self, name: str, bucket: str) -> str:
        # one tag per (cache, bucket): an entry, its bucket's member set and its
        # bucket's counters share a slot, so one script updates all three
        return "{" + escape_part(name) + "." + bucket + "}"

    def cache_entry(self, name: str, bucket: str, digest: str) -> str:
        """Hash of one cache entry (under :meth:`cache_prefix`, so the index sees it)."""
        return self.cache_prefix(name) + self._cache_tag(name, bucket) + ":" + digest

    def cache_entry_prefix(self, name: str, bucket: str) -> str:
        """Prefix of the entry keys of one bucket (``+ digest`` gives the key)."""
        return self.cache_prefix(name) + self._cache_tag(name, bucket) + ":"

    def cache_members(self, name: str, bucket: str) -> str:
        """Sorted set of one bucket's entry digests scored by expiry (ms): clear()
        and len() without SCAN."""
        return self._join("cache", escape_part(name), "m", self._cache_tag(name, bucket))

    def cache_member_parts(self, name: str, bucket: str, parts: str) -> list[str]:
        """The semantic cache's parts of :meth:`cache_members`, one a character of
        ``parts`` (an entry's is its digest's second character): each stays small enough
        for Redis's compact encoding (a listpack: ≈ 30 B a member instead of ≈ 120 B)."""
        key = self.cache_members(name, bucket)
        return [f"{key}:{part}" for part in parts]

    def cache_hits(self, name: str, bucket: str) -> str:
        """Hash of one bucket's per-entry hit counts (digest -> hits). Kept out of the
        entry hash: writing an indexed hash re-indexes its vector (~0.5 ms)."""
        return self._join("cache", escape_part(name), "h", self._cache_tag(name, bucket))

    def cache_bucket_stats(self, name: str, bucket: str) -> str:
        """Hash of one bucket's hit/miss/token counters (same slot as its entries)."""
        return self._join("cache", escape_part(name), "s", self._cache_tag(name, bucket))

    # -- role 1: key/value stores (LangChain ByteStore, LlamaIndex KVStore) --
    def kv_prefix(self, name: str, collection: str = "data") -> str:
        """Key prefix of a key/value store collection (ends with ``:``)."""
        return self._join("kv", escape_part(name), escape_part(collection)) + ":"

    # -- role 2: conversation state (one hash tag per session) --
    def _session_tag(self, session_id: str) -> str:
        return "{" + escape_part(session_id, "the session id") + "}"

    def history_messages(self, session_id: str) -> str:
        """List of JSON messages of a session."""
        return self._join("hist", self._session_tag(session_id), "msgs")

    def history_meta(self, session_id: str) -> str:
        """Hash of a session's metadata (same slot as its messages)."""
        return self._join("hist", self._session_tag(session_id), "meta")

    def history_archive(self, session_id: str) -> str:
        """List of a session's archived messages (same slot as its messages)."""
        return self._join("hist", self._session_tag(session_id), "archive")

    def history_sessions(self) -> str:
        """Sorted set of session ids by last activity, for listing without SCAN."""
        return self._join("hist", "sessions")

    def history_sessions_marker(self) -> str:
        """Key telling that the session index was made whole (its first write on a new
        namespace, or ``rebuild_sessions``): an index created while it exists was lost
        (evicted) and lacks the sessions not written since. Its hash tag is the index's
        name, so both share a Redis Cluster slot."""
        return self._join("hist", "{" + self.history_sessions() + "}")

    def history_recall_index(self) -> str:
        """Search index of messages embedded for semantic recall."""
        return self._join("hist", "recall", "idx")

    def history_recall_state(self) -> str:
        """Hash beside the recall index: the embedding model of its vectors."""
        return self._join("hist", "recall", "state")

    def history_recall_prefix(self) -> str:
        """Key prefix of messages embedded for semantic recall (ends with ``:``)."""
        return self._join("hist", "recall", "e") + ":"

    def migration(self, kind: str, target: str) -> str:
        """Hash of a resumable migration into ``target`` (``redis-agent migrate``):
        source, SCAN cursor, documents written."""
        return self._join("migrate", kind, escape_part(target))

    # -- role 3: vector indexes --
    def vector_index(self, name: str) -> str:
        """Search index name of vector store ``name``."""
        return self._join("vec", escape_part(name), "idx")

    def vector_index_keys(self, name: str) -> IndexKeys:
        """The names of vector store ``name``'s index (alias, variants, lock, tuning)."""
        return IndexKeys(
            self.vector_index(name), self.vector_index_variant(name, "flat"),
            self.vector_index_variant(name, "hnsw"), self.vector_switch_lock(name),
            self.vector_recall(name),
        )  # fmt: skip

    def vector_index_variant(self, name: str, algorithm: str) -> str:
        """Search index of vector store ``name`` built with ``algorithm`` when the store
        picks its own (``algorithm="auto"``): ``vector_index(name)`` is then an alias."""
        return self._join("vec", escape_part(name), "idx", algorithm)

    def vector_switch_lock(self, name: str) -> str:
        """Lock held while one process builds vector store ``name``'s next index."""
        return self._join("vec", escape_part(name), "switch")

    def vector_recall(self, name: str) -> str:
        """Hash of vector store ``name``'s tuned ``ef_runtime`` and measured recall."""
        return self._join("vec", escape_part(name), "recall")

    def vector_prefix(self, name: str) -> str:
        """Key prefix of the documents of vector store ``name`` (ends with ``:``)."""
        return self._join("vec", escape_part(name), "d") + ":"

    # -- role 4: rate limits (all keys of one decision share one tag) --
    def _ratelimit(self, scope: str, part: str, subject: str | None) -> str:
        # no subject (a call without a user or org) leaves the last part out: an id,
        # however spelt, is escaped into a part of its own, so none can name that key
        tail = () if subject is None else (escape_part(subject),)
        return self._join("rl", "{" + escape_part(scope) + "}", part, *tail)

    def ratelimit(self, scope: str, limit_name: str, subject: str | None) -> str:
        """Key of one limit for one subject (``None``: calls made without one);
        ``scope`` is the hash tag shared by every limit checked in the same script."""
        return self._ratelimit(scope, escape_part(limit_name), subject)

    def ratelimit_total(self, scope: str, limit_name: str, subject: str | None) -> str:
        """Running token total of a rolling budget, same slot as its entries. Limit names
        cannot contain ``+``, so this never equals a :meth:`ratelimit` key."""
        return self._ratelimit(scope, escape_part(limit_name) + "+total", subject)

    def ratelimit_settled(self, scope: str, limit_name: str, subject: str | None) -> str:
        """Reservation ids settled in a fixed-window budget's current window (so a
        settle is applied once), same slot as the budget."""
        return self._ratelimit(scope, escape_part(limit_name) + "+settled", subject)

    # -- role 5: task queue state --
    def job(self, job_id: str) -> str:
        """Hash of a background job's progress."""
        return self._join("job", "{" + escape_part(job_id) + "}", "state")

    def job_items(self, job_id: str, kind: str) -> str:
        """Set of item ids of a job in state ``kind`` (done/failed), same slot as the job."""
        return self._join("job", "{" + escape_part(job_id) + "}", escape_part(kind))

    def job_result(self, job_id: str) -> str:
        """Result of a background job (same slot as its state)."""
        return self._join("job", "{" + escape_part(job_id) + "}", "result")

    def job_errors(self, job_id: str) -> str:
        """Hash of a job's failed item ids -> error text (same slot as its state)."""
        return self._join("job", "{" + escape_part(job_id) + "}", "errors")

    def celery_prefix(self) -> str:
        """Prefix of every key Celery's broker and result backend write (ends with ``:``)."""
        return self._join("celery") + ":"

    def dead_letters(self) -> str:
        """Stream of webhook deliveries that failed after their last try."""
        return self._join("webhook", "dead")

    # -- services: API keys, what each principal owns --
    def api_keys(self) -> str:
        """Hash of API key id -> JSON {user, sha256 of the secret, created}."""
        return self._join("auth", "keys")

    def owned_sessions(self, user: str) -> str:
        """Sorted set of a user's session ids by last activity (the service's listing)."""
        return self._join("svc", "sessions", escape_part(user))

    def owned_sessions_marker(self, user: str) -> str:
        """Key telling that ``user``'s session listing was made whole (its first turn, or
        a rebuild): a listing missing its ``''`` member while it exists was lost (evicted).
        Its hash tag is the listing's name, so both share a Redis Cluster slot."""
        return self._join("svc", "{" + self.owned_sessions(user) + "}")

    def job_owner(self, job_id: str) -> str:
        """String: the user who submitted a job through the service."""
        return self._join("svc", "job-owner", escape_part(job_id))

    # -- role 6: agent bus --
    def bus_channel(self, topic: str) -> str:
        """Pub/Sub channel of an ephemeral topic."""
        return self._join("bus", "ch", escape_part(topic))

    def bus_stream(self, topic: str) -> str:
        """Stream of a durable topic."""
        return self._join("bus", "st", "{" + escape_part(topic) + "}")

    def bus_reply(self, correlation_id: str) -> str:
        """Pub/Sub channel on which a request's reply is published."""
        return self._join("bus", "reply", escape_part(correlation_id))

    # -- the reference service's processes --
    def service_processes(self, service: str) -> str:
        """Hash of process label -> JSON counters of each process serving ``service``."""
        return self._join("svc", "procs", escape_part(service))

    # -- agent state: served LlamaIndex workflows (one hash tag per store) --
    def workflow(self, store: str, *parts: str) -> str:
        """A key of workflow store ``store``: every key of one store shares a hash tag,
        so its multi-key reads work on a cluster (one slot per store)."""
        tag = "{" + escape_part(store, "the workflow store name") + "}"
        return self._join("wf", tag, *(escape_part(p, "a run id or namespace") for p in parts))

    # -- agent state: LangGraph-style long-term store (one hash tag per store) --
    def agent_store(self, store: str, part: str) -> str:
        """``idx`` (sorted set of item members, lexicographic), ``exp`` (members by expiry
        ms) or ``i:`` (the prefix of item hashes, the member appended) of agent store
        ``store``; one hash tag per store, so every key of a store is in one slot."""
        tag = "{" + escape_part(store, "the agent store name") + "}"
        return self._join("st", tag, part)

    # -- agent state: LangGraph node cache (one hash tag per cache namespace) --
    def node_cache(self, cache: str, namespace: str, part: str) -> str:
        """``idx`` (sorted set of the namespace's entry keys by expiry ms) or ``e:`` (the
        prefix of entry keys) of one namespace (an encoded label path) of node cache
        ``cache``: a namespace's keys share a hash tag, so clearing it is one slot. The
        name's ``|`` is escaped too (``%7C``): cache ``a|b`` namespace ``c`` and cache
        ``a`` namespace ``b|c`` read each other's entries when it was not."""
        name = escape_part(cache, "the node cache name").replace("|", "%7C")
        tag = "{" + name + "|" + escape_part(namespace) + "}"
        return self._join("nc", tag, part)

    def node_cache_namespaces(self, cache: str) -> str:
        """Set of the encoded namespaces node cache ``cache`` has written (clearing all)."""
        return self._join("nc", "{" + escape_part(cache, "the node cache name") + "}", "nss")

    # -- agent state: LangGraph-style checkpoints (one hash tag per thread) --
    def _thread_tag(self, thread_id: str) -> str:
        return "{" + escape_part(thread_id, "the thread id") + "}"

    def checkpoint_index(self, thread_id: str) -> str:
        """Sorted set (all scores 0, ordered by member) of ``<ns>\\0<checkpoint id>``."""
        return self._join("cp", self._thread_tag(thread_id), "idx")

    def checkpoint_namespaces(self, thread_id: str) -> str:
        """Set of the checkpoint namespaces a thread has used (same slot)."""
        return self._join("cp", self._thread_tag(thread_id), "nss")

    def checkpoint_unindexed(self, thread_id: str) -> str:
        """Set of the keys of records holding pending writes of a checkpoint not in the
        index (saved before their checkpoint, or after the thread was deleted)."""
        return self._join("cp", self._thread_tag(thread_id), "w")

    def checkpoint_thread_prefix(self, thread_id: str) -> str:
        """The start of every key of a thread (the thread's delete script builds them)."""
        return self._join("cp", self._thread_tag(thread_id), "")

    def checkpoint_namespaces_pattern(self) -> str:
        """SCAN glob of every thread's :meth:`checkpoint_namespaces` key (listing threads)."""
        return self._join("cp", "{*}", "nss")

    def checkpoint(self, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> str:
        """Hash of one checkpoint: record fields plus its pending writes."""
        return self._join(
            "cp",
            self._thread_tag(thread_id),
            "c",
            escape_part(checkpoint_ns, "the checkpoint namespace"),
            escape_part(checkpoint_id, "the checkpoint id"),
        )

    def checkpoint_blobs(self, thread_id: str, checkpoint_ns: str) -> str:
        """Hash of channel values by ``<channel>\\0<version>`` for one namespace."""
        return self._join(
            "cp",
            self._thread_tag(thread_id),
            "b",
            escape_part(checkpoint_ns, "the checkpoint namespace"),
        )

    def checkpoint_head(self, thread_id: str, checkpoint_ns: str) -> str:
        """Hash of the id and value references of a namespace's latest checkpoint (full
        saver): reading the latest takes two round trips instead of three."""
        return self._join(
            "cp",
            self._thread_tag(thread_id),
            "h",
            escape_part(checkpoint_ns, "the checkpoint namespace"),
        )

    def checkpoint_latest(self, thread_id: str, checkpoint_ns: str) -> str:
        """Hash of the only checkpoint a shallow saver keeps for one namespace."""
        return self._join(
            "cp",
            self._thread_tag(thread_id),
            "s",
            escape_part(checkpoint_ns, "the checkpoint namespace"),
        )
