"""A semantic cache written by an earlier layout keeps working after the upgrade.

The earlier entries are written here by hand, with raw commands, exactly as the code
before 2026-12-04 wrote them (32-hex ids in the key and the member record; payload,
usage, tokens, "gf" = features + newline + prompt (or "prompt" without guards), scope
and vector each in a field of their own), so these tests keep checking that layout
whatever the current one becomes.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.cache.entry import compact_digest
from redis_agent_core.cache.guards import Verifier
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from tests.conftest import keys_matching, skip_unless

from .conftest import toy_vector

A = make_scope({"model": "a"})


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


def _old_digest(scope: str, prompt: str) -> str:
    """The id the earlier code gave an entry (no partition filters)."""
    h = hashlib.sha256(scope.encode())
    h.update(b"\0\0")
    h.update(prompt.encode())
    return h.hexdigest()[:32]


def _write_old(
    config: RedisAgentConfig,
    prompt: str,
    payload: str,
    ttl_ms: int = 0,
    usage: bytes = b"",
    guarded: bool = True,
) -> tuple[str, str, str]:
    """One entry of cache "semantic" as the earlier update script wrote it, with guard
    features or (``guarded=False``) without: ``(entry key, members key, id)``."""
    client = config.get_client()
    ns, d = config.namespace, _old_digest(A, prompt)
    tag = "{semantic." + d[0] + "}"
    key, members = f"{ns}:cache:semantic:e:{tag}:{d}", f"{ns}:cache:semantic:m:{tag}"
    now_ms = int(time.time() * 1000)
    client.zadd(members, {d: now_ms + ttl_ms if ttl_ms else float("inf")})
    fields: dict[str, Any] = {
        "payload": payload,
        "scope": A,
        "vec": toy_vector(prompt).astype(np.float16).tobytes(),
    }
    if guarded:  # the prompt after its features
        fields["gf"] = Verifier.features_of(prompt) + b"\n" + prompt.encode()
    else:
        fields["prompt"] = prompt
    if usage:
        fields.update(usage=usage, tokens=7)
    client.hset(key, mapping=fields)
    if ttl_ms:
        client.pexpire(key, ttl_ms)
    return key, members, d


def _same_bucket(bucket: str) -> str:
    """A prompt whose entry the current code writes in ``bucket``."""
    return next(p for i in range(1000) if compact_digest(A, p := f"fresh {i}")[0] == bucket)


def test_a_new_entry_has_a_21_character_id(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # the id is in the key (twice: keyspace and the index's document table) and in the
    # member record: 124 bits in 21 base64url characters instead of 32 hex digits
    cache = SemanticCache(config, embedder=toy_embedder)
    assert cache.update("Name a colour", A, "red")
    [key] = keys_matching(config.get_client(), f"{config.namespace}:cache:semantic:e:*")
    digest = key.rsplit(b":", 1)[1]
    assert len(digest) == 21 and digest == compact_digest(A, "Name a colour").encode()
    assert digest[:1] == key.split(b".", 1)[1][:1]  # its first character is the bucket
    assert cache.lookup_exact("Name a colour", A).payload == "red"  # type: ignore[union-attr]


@pytest.mark.parametrize("guarded", [True, False])
def test_entries_of_the_earlier_layout_are_served_counted_and_cleared(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, guarded: bool
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder, **({} if guarded else {"verifier": None}))
    cache.ensure_index()
    usage = b'{"total_tokens":7}'
    key, members, _ = _write_old(config, "Name a colour", "red", usage=usage, guarded=guarded)
    # the exact tier looks for the new id and misses; the search finds the entry
    assert cache.lookup_exact("Name a colour", A) is None
    hit = cache.lookup("Name a colour", A)
    assert hit is not None and (hit.payload, hit.prompt, hit.key) == ("red", "Name a colour", key)
    assert hit.usage == {"total_tokens": 7} and hit.hits == 1
    assert cache.lookup("Name a colour", A).hits == 2  # type: ignore[union-attr]
    assert cache.stats().tokens_saved == 14
    assert cache.update("Name a shape", A, "circle")
    assert len(cache) == 2
    assert cache.lookup("Name a shape", A).payload == "circle"  # type: ignore[union-attr]
    assert cache.clear() == 2
    client = config.get_client()
    assert not client.exists(key, members) and len(cache) == 0
    assert cache.lookup("Name a colour", A) is None


async def test_async_lookups_serve_entries_of_the_earlier_layout(
    aconfig: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(aconfig, embedder=toy_embedder)
    await cache.aensure_index()
    key, _, _ = _write_old(aconfig, "Name a colour", "red")
    hit = await cache.alookup("Name a colour", A)
    assert hit is not None and (hit.payload, hit.key, hit.hits) == ("red", key, 1)
    assert await cache.aclear() == 1


def test_entries_of_the_earlier_layout_expire(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    cache = SemanticCache(config, embedder=toy_embedder)
    cache.ensure_index()
    key, members, d = _write_old(config, "Name a colour", "red", ttl_ms=50)
    _write_old(config, "Name a shape", "circle")
    assert len(cache) == 2
    client = config.get_client()
    deadline = time.monotonic() + 10
    while client.exists(key) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not client.exists(key)  # Redis expired it
    assert len(cache) == 1  # its member record is past its score
    assert cache.lookup("Name a colour", A) is None
    # a write in its bucket prunes the member record of the expired entry
    assert client.zscore(members, d) is not None
    assert cache.update(_same_bucket(d[0]), A, "x")
    assert client.zscore(members, d) is None
    assert len(cache) == 2


def test_member_records_live_in_small_parts_of_their_bucket(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # a member costs ≈ 30 B in a listpack, ≈ 120 B in a skiplist (a set over 128
    # members): the bucket's set is split in 64 by the id's second character
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    prompts = [f"prompt {i}" for i in range(300)]
    for p in prompts:
        assert cache.update(p, A, "x", ttl=3600)
    client = config.get_client()
    ns = config.namespace
    for p in prompts[:20]:
        d = compact_digest(A, p)
        part = f"{ns}:cache:semantic:m:{{semantic.{d[0]}}}:{d[1]}"
        assert client.zscore(part, d) is not None
        assert client.object("encoding", part) == b"listpack"
    assert not client.exists(
        *(f"{ns}:cache:semantic:m:{{semantic.{b}}}" for b in "0123456789abcdef")
    )
    assert len(cache) == 300
    assert cache.clear() == 300 and len(cache) == 0
    assert not list(client.scan_iter(f"{ns}:cache:semantic:[emhs]:*"))  # entries, records, counts


def test_a_record_in_the_buckets_own_set_is_counted_once_after_a_rewrite(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder
) -> None:
    # an entry written with a 21-character id before the parts (e36b63e) has its record
    # in the bucket's own set: writing it again moves the record into its part
    cache = SemanticCache(config, embedder=toy_embedder, verifier=None)
    assert cache.update("Name a colour", A, "red")
    client = config.get_client()
    d = compact_digest(A, "Name a colour")
    bucket = f"{config.namespace}:cache:semantic:m:{{semantic.{d[0]}}}"
    part = f"{bucket}:{d[1]}"
    client.zadd(bucket, {d: float("inf")})
    client.zrem(part, d)
    assert len(cache) == 1
    assert cache.update("Name a colour", A, "blue")
    assert client.zscore(bucket, d) is None and client.zscore(part, d) is not None
    assert len(cache) == 1 and cache.clear() == 1
