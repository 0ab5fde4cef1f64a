"""Bugs reported against the peers' key/value, document and LLM cache stores, tried
here on a real server (docs/migrating.md, "Known bugs of the peers"). None occurs here;
each test holds what a user relies on and nothing else in tests/ asserts."""

from __future__ import annotations

import asyncio

from langchain_core.outputs import Generation
from llama_index.core import Document
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore

from langchain_redis_agent.cache import RedisCache
from llamaindex_redis_agent.kvstore import RedisKVStore
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.kvstore import KVStore


def test_collections_and_keys_never_share_an_entry(config: RedisAgentConfig) -> None:
    """Collections are key prefixes: joined with a separator, ("c", "x/y") and
    ("c/x", "y") (LlamaIndex's docstore collections are "docstore/data" ...) or a glob
    character in a collection would read or list another collection's entries."""
    kv = KVStore(config)
    entries = [("c", "x/y"), ("c/x", "y"), ("c", "x:y"), ("c:x", "y"), ("c", "*"), ("c*", "a")]
    for i, (collection, key) in enumerate(entries):
        kv.mset([(key, str(i).encode())], collection)
    for i, (collection, key) in enumerate(entries):
        assert kv.mget([key], collection) == [str(i).encode()]
    assert sorted(kv.yield_keys(collection="c")) == ["*", "x/y", "x:y"]
    assert sorted(kv.yield_keys(collection="c*")) == ["a"]


def test_a_docstore_on_it_works_async(config: RedisAgentConfig) -> None:
    """llama_index#13695 / #10248: an IngestionPipeline's `arun` with the Redis docstore
    raised NotImplementedError (the KV store had no async methods)."""
    docstore = KVDocumentStore(RedisKVStore(config), namespace="kb")

    async def run() -> None:
        await docstore.async_add_documents([Document(text="hello", id_="doc1")])
        found = await docstore.aget_document("doc1")
        assert found is not None and found.text == "hello"
        assert list((await docstore.aget_all_document_hashes()).values()) == ["doc1"]
        await docstore.adelete_document("doc1")
        assert not await docstore.adocument_exists("doc1")

    asyncio.run(run())
    assert docstore.get_document("doc1", raise_error=False) is None


def test_updating_a_prompt_replaces_its_entry(config: RedisAgentConfig) -> None:
    """langchain#25147: update() of a cached prompt added a second entry beside the
    first, so a lookup could serve the old generations."""
    cache = RedisCache(config=config)
    cache.update("p", "model-1", [Generation(text="old")])
    cache.update("p", "model-1", [Generation(text="new")])
    cache.update("p", "model-2", [Generation(text="other model")])
    assert [g.text for g in cache.lookup("p", "model-1") or []] == ["new"]
    assert [g.text for g in cache.lookup("p", "model-2") or []] == ["other model"]
