"""redis-agent migrate vectors: a real langchain-redis index (built by langchain-redis
0.2.6) and an index in llama-index-vector-stores-redis's layout (built here from its
documented schema with LlamaIndex's own node_to_metadata_dict: the peer package pins
redisvl<0.5 and cannot share this environment) are copied into the pack with their
vectors; the top-10 answers match the peer's, an interrupted run resumes without
duplicates, and the counts are verified."""

from __future__ import annotations

import json

import numpy as np
import pytest
import redis
from langchain_core.embeddings import Embeddings
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.core.vector_stores.utils import node_to_metadata_dict
from redisvl.index import SearchIndex
from redisvl.query import VectorQuery

from langchain_redis_agent import RedisVectorStore as LCStore
from llamaindex_redis_agent import RedisVectorStore as LIStore
from redis_agent_core.cli import main
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError, DataCorruptionError
from redis_agent_core.migrate import migrate_vectors
from redis_agent_core.migrate.vectors import PeerIndex, peer_document
from redis_agent_core.vectors import VectorIndex
from tests.vectors.conftest import clustered

langchain_redis = pytest.importorskip("langchain_redis", reason="extra bench: langchain-redis")

DIMS = 32
N = 300


class TableEmbeddings(Embeddings):
    """Precomputed vectors by text (the migration must not embed anything)."""

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = table

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.table[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.table[text]


@pytest.fixture
def corpus() -> tuple[list[str], np.ndarray, list[dict]]:
    vectors = clustered(np.random.default_rng(7), N, DIMS)
    texts = [f"passage {i}" for i in range(N)]
    metas = [{"genre": ["jazz", "Rock", "folk"][i % 3], "year": 1950 + i % 70} for i in range(N)]
    return texts, vectors, metas


@pytest.fixture
def lc_peer(
    corpus: tuple[list[str], np.ndarray, list[dict]], redis_url: str, namespace: str
) -> tuple[object, TableEmbeddings]:
    texts, vectors, metas = corpus
    emb = TableEmbeddings({t: v.tolist() for t, v in zip(texts, vectors, strict=True)})
    peer = langchain_redis.RedisVectorStore(
        emb, index_name=f"{namespace}:lc", key_prefix=f"{namespace}:lcpeer",
        redis_url=redis_url, embedding_dimensions=DIMS, indexing_algorithm="FLAT",
        metadata_schema=[{"name": "genre", "type": "tag"}, {"name": "year", "type": "numeric"}],
    )  # fmt: skip
    peer.add_texts(texts, metas)
    return peer, emb


def test_langchain_redis_index_migrates_with_the_same_answers(
    lc_peer: tuple[object, TableEmbeddings],
    corpus: tuple[list[str], np.ndarray, list[dict]],
    config: RedisAgentConfig,
    namespace: str,
) -> None:
    peer, emb = lc_peer
    _, vectors, metas = corpus
    report = migrate_vectors(f"{namespace}:lc", peer="langchain-redis", to="lc", config=config)
    assert report.complete and report.verified and report.target_docs == N
    ours = LCStore.from_existing_index(emb, "lc", config=config)
    assert ours.index.schema.algorithm == "flat"
    for q in vectors[:20]:
        theirs = [d.page_content for d in peer.similarity_search_by_vector(q.tolist(), k=10)]
        mine = [d.page_content for d in ours.similarity_search_by_vector(q.tolist(), k=10)]
        assert mine == theirs
    first = ours.similarity_search_by_vector(vectors[4].tolist(), k=1)[0]
    assert first.page_content == "passage 4" and first.metadata == metas[4]
    # the peer's tag was case-insensitive: so is the migrated field
    rock = ours.similarity_search_by_vector(vectors[1].tolist(), k=N, filter={"genre": "rock"})
    assert len(rock) == N // 3


async def test_a_decoding_redis_client_migrates_the_vectors(
    lc_peer: tuple[object, TableEmbeddings],
    corpus: tuple[list[str], np.ndarray, list[dict]],
    decoding_config: RedisAgentConfig,
    namespace: str,
) -> None:
    # the peer's users build their client with decode_responses=True: the stored
    # vectors (not UTF-8) raised UnicodeDecodeError
    report = migrate_vectors(
        f"{namespace}:lc", peer="langchain-redis", to="lcd", config=decoding_config
    )
    assert report.complete and report.verified and report.target_docs == N
    ours = LCStore.from_existing_index(lc_peer[1], "lcd", config=decoding_config)
    first = ours.similarity_search_by_vector(corpus[1][4].tolist(), k=1)[0]
    assert first.page_content == "passage 4" and first.metadata == corpus[2][4]


def test_an_interrupted_migration_resumes_without_duplicates(
    lc_peer: tuple[object, TableEmbeddings], config: RedisAgentConfig, namespace: str
) -> None:
    partial = migrate_vectors(f"{namespace}:lc", peer="langchain-redis", to="lc2",
                              config=config, batch_size=40, max_batches=2)  # fmt: skip
    assert not partial.complete and 0 < partial.written < N
    with pytest.raises(ConfigError, match="has not finished"):
        migrate_vectors(f"{namespace}:lc", peer="llama-index", to="lc2", config=config)
    done = migrate_vectors(f"{namespace}:lc", peer="langchain-redis", to="lc2",
                           config=config, batch_size=40)  # fmt: skip
    assert done.resumed and done.complete and done.verified and done.target_docs == N
    ids = LCStore.from_existing_index(lc_peer[1], "lc2", config=config).index.find(
        None, limit=N + 10
    )
    assert len({h.id for h in ids}) == len(ids) == N


@pytest.mark.parametrize(
    ("suffix", "metadata", "named"),
    [
        (":zzz", {"genre": {"a": 1}}, "tag field"),  # a value the target's tag refuses
        (":", {}, "non-empty"),  # the key is the prefix alone: an empty id
    ],
)
def test_a_peer_document_the_target_refuses_is_named_and_the_rerun_resumes(
    lc_peer: tuple[object, TableEmbeddings],
    config: RedisAgentConfig,
    redis_url: str,
    namespace: str,
    suffix: str,
    metadata: dict,
    named: str,
) -> None:
    # it raised the target's ConfigError naming no document, on every rerun at that batch
    bad = f"{namespace}:lcpeer{suffix}"
    client = redis.Redis.from_url(redis_url)
    vector = np.ones(DIMS, dtype=np.float32).tobytes()
    client.hset(bad, mapping={"text": "x", "embedding": vector,
                              "_metadata_json": json.dumps(metadata)})  # fmt: skip
    with pytest.raises(DataCorruptionError, match=f"{bad!r}.*{named}.*resumes at this batch"):
        migrate_vectors(f"{namespace}:lc", peer="langchain-redis", to="lc3", config=config,
                        batch_size=40)  # fmt: skip
    client.delete(bad)
    # SCAN's order follows the keys' hashes (the namespace is random): when the refused
    # document fell in the first batch no cursor was saved yet, and the rerun starts afresh
    saved = bool(client.exists(config.keys.migration("vectors", "lc3")))
    client.close()
    done = migrate_vectors(f"{namespace}:lc", peer="langchain-redis", to="lc3", config=config,
                           batch_size=40)  # fmt: skip
    assert done.resumed == saved
    assert done.complete and done.verified and done.target_docs == N


def test_the_cli_reports_and_verifies(
    lc_peer: tuple[object, TableEmbeddings],
    redis_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["migrate", "vectors", "--from", "langchain-redis", "--index",
                 f"{namespace}:lc", "--to", "cli", "--url", redis_url,
                 "--namespace", namespace])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["verified"] and report["target_docs"] == N
    assert report["docs_per_second"] > 0
    code = main(["migrate", "vectors", "--from", "langchain-redis", "--index", "nope",
                 "--url", redis_url, "--namespace", namespace])  # fmt: skip
    assert code == 2 and "no search index 'nope'" in capsys.readouterr().err


def llama_peer(redis_client: redis.Redis, namespace: str, corpus: tuple) -> SearchIndex:
    """An index as llama-index-vector-stores-redis writes it: its default schema (id,
    doc_id, text, vector; prefix + "_" + node id) with a filter field, and each record
    as its add() builds it (node_to_metadata_dict beside id/doc_id/text/vector)."""
    texts, vectors, metas = corpus
    index = SearchIndex.from_dict({
        "index": {"name": f"{namespace}:li", "prefix": f"{namespace}:livector",
                  "key_separator": "_", "storage_type": "hash"},
        "fields": [
            {"name": "id", "type": "tag"}, {"name": "doc_id", "type": "tag"},
            {"name": "text", "type": "text"}, {"name": "genre", "type": "tag"},
            {"name": "vector", "type": "vector",
             "attrs": {"dims": DIMS, "algorithm": "flat", "distance_metric": "cosine"}},
        ],
    }, redis_client=redis_client)  # fmt: skip
    index.create()
    records = []
    for i, (t, v, m) in enumerate(zip(texts, vectors, metas, strict=True)):
        source = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i % 7}")}
        node = TextNode(id_=f"node-{i}", text=t, embedding=v.tolist(), metadata=m,
                        relationships=source)  # fmt: skip
        records.append({
            "id": node.node_id, "doc_id": node.ref_doc_id, "text": t,
            "vector": v.astype(np.float32).tobytes(),
            **node_to_metadata_dict(node, remove_text=True, flat_metadata=False),
        })  # fmt: skip
    index.load(records, id_field="id")
    return index


async def test_llama_index_layout_migrates(
    corpus: tuple[list[str], np.ndarray, list[dict]],
    config: RedisAgentConfig,
    redis_client: redis.Redis,
    namespace: str,
) -> None:
    peer = llama_peer(redis_client, namespace, corpus)
    report = migrate_vectors(f"{namespace}:li", peer="llama-index", to="li", config=config)
    assert report.verified and report.target_docs == N
    store = LIStore("li", config=config)  # dims read from the migrated index
    vectors, metas = corpus[1], corpus[2]
    for q in vectors[:20]:
        rows = peer.query(VectorQuery(q.tolist(), "vector", return_fields=["text"], num_results=10))
        found = await store.aquery(
            VectorStoreQuery(query_embedding=q.tolist(), similarity_top_k=10)
        )
        assert [n.get_content() for n in found.nodes] == [r["text"] for r in rows]
    node = store.get_nodes(node_ids=["node-5"])[0]
    assert node.metadata == metas[5] and node.ref_doc_id == "doc-5"
    assert node.get_content() == "passage 5"
    jazz = MetadataFilters(filters=[MetadataFilter(key="genre", value="jazz")])
    assert len(store.get_nodes(filters=jazz)) == N // 3
    store.delete("doc-0")  # ref_doc_id came along
    assert store.index.count() == N - len(range(0, N, 7))


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"text": "t", "embedding": b"\0" * 8, "_metadata_json": b"{not json"}, "_metadata_json"),
        ({"text": "t", "embedding": b"\0" * 7}, "7 bytes"),
    ],
    ids=["metadata", "vector"],
)
def test_a_damaged_peer_document_is_data_corruption_naming_it(
    fields: dict[str, bytes], named: str
) -> None:
    source = PeerIndex(
        name="i", peer="langchain-redis", storage="hash", prefixes=("p",), text_field="text",
        vector_field="embedding", dims=2, algorithm="flat", metric="cosine", dtype="float32",
        metadata_fields=(), num_docs=1,
    )  # fmt: skip
    with pytest.raises(DataCorruptionError, match=f"'p:1'.*{named}"):
        peer_document(source, "p:1", fields)


def test_an_id_copied_by_an_earlier_batch_is_named_not_overwritten(
    config: RedisAgentConfig, redis_client: redis.Redis, namespace: str
) -> None:
    # two prefixes of one langchain-redis-style index hold the id "1" each: the second
    # overwrote the first silently and the run ended only with verified: false
    a, b = f"{namespace}:pa:", f"{namespace}:pb:"
    redis_client.execute_command(
        "FT.CREATE", f"{namespace}:two", "ON", "HASH", "PREFIX", 2, a, b, "SCHEMA",
        "text", "TEXT", "embedding", "VECTOR", "FLAT", 6, "TYPE", "FLOAT32", "DIM", 4,
        "DISTANCE_METRIC", "COSINE",
    )  # fmt: skip
    vector = np.ones(4, dtype=np.float32).tobytes()
    for key in (f"{a}1", f"{a}2", f"{b}1", f"{b}3"):
        redis_client.hset(key, mapping={"text": key, "embedding": vector})
    with pytest.raises(DataCorruptionError, match=f"id '1' of '{b}1' was copied from '{a}1'"):
        migrate_vectors(f"{namespace}:two", peer="langchain-redis", to="two", config=config,
                        batch_size=1)  # fmt: skip
    target = VectorIndex("two", config=config)
    assert target.get(["1"])[0].text == f"{a}1"  # not overwritten
    redis_client.delete(f"{b}1")  # the user's fix: the rerun resumes at that batch
    done = migrate_vectors(f"{namespace}:two", peer="langchain-redis", to="two", config=config,
                           batch_size=1)  # fmt: skip
    assert done.resumed and done.complete and done.verified and done.target_docs == 3
    assert not redis_client.exists(config.keys.migration("vectors", "two") + ":ids")


def _ids_by_text(index: VectorIndex) -> dict[str, str]:
    return {h.text: h.id for h in index.find(None, limit=N + 10)}


def test_a_second_run_keeps_what_the_pack_changed_or_deleted(
    lc_peer: tuple[object, TableEmbeddings],
    corpus: tuple[list[str], np.ndarray, list[dict]],
    config: RedisAgentConfig,
    redis_client: redis.Redis,
    namespace: str,
) -> None:
    # review 24: a run after a completed one overwrote documents the application had
    # changed in the pack since, and re-created those it had deleted there
    peer, emb = lc_peer
    vectors = corpus[1]
    source = f"{namespace}:lc"
    assert migrate_vectors(source, peer="langchain-redis", to="again", config=config).verified
    index = VectorIndex.from_existing("again", config=config)
    ids = _ids_by_text(index)
    edited, deleted, moved = ids["passage 1"], ids["passage 2"], ids["passage 3"]
    index.add(["edited in the pack"], ids=[edited], metadatas=[{"genre": "jazz"}],
              vectors=vectors[1:2])  # fmt: skip
    index.delete([deleted])
    index.add(["pack only"], ids=["pack-only"], vectors=vectors[9:10])
    # the old application goes on writing to the source meanwhile
    for doc_id in (edited, moved):
        key = f"{namespace}:lcpeer:{doc_id}"
        redis_client.hset(key, "text", redis_client.hget(key, "text") + b" v2")
    emb.table["passage new"] = vectors[7].tolist()
    peer.add_texts(["passage new"], [{"genre": "folk", "year": 1999}])
    report = migrate_vectors(source, peer="langchain-redis", to="again", config=config)
    got = {h.id: h.text for h in index.get([edited, deleted, moved, "pack-only"])}
    assert got == {edited: "edited in the pack", moved: "passage 3 v2", "pack-only": "pack only"}
    assert report.skipped == {"changed_in_pack": [edited], "deleted_in_pack": [deleted]}
    assert report.written == 2 and report.unchanged == N - 3
    assert report.verified and report.read == N + 1 and report.advice is None
    assert "passage new" in _ids_by_text(index)
    # asked for, the source's version wins
    report = migrate_vectors(source, peer="langchain-redis", to="again", config=config,
                             overwrite=True)  # fmt: skip
    assert report.written == N + 1 and not report.skipped and report.verified
    got = {h.id: h.text for h in index.get([edited, deleted])}
    assert got == {edited: "passage 1 v2", deleted: "passage 2"}


@pytest.mark.parametrize("storage", ["hash", "json"])
def test_a_source_change_reaches_the_pack_when_the_pack_kept_the_copy(
    config: RedisAgentConfig, redis_url: str, namespace: str, storage: str
) -> None:
    # what the pack holds is compared with what a run wrote (vectors as stored,
    # metadata as JSON): a copy the pack left alone takes the source's new version, a
    # copy it re-embedded is kept
    vectors = clustered(np.random.default_rng(3), 40, DIMS)
    texts = [f"t{i}" for i in range(40)]
    nested = storage == "json"  # langchain-redis flattens a hash's metadata
    metas = [
        {"genre": "jazz", "score": i / 7, "tags": ["a", "b"],
         **({"n": {"x": -0.0, "i": i}} if nested else {"x": -0.0})}
        for i in range(40)
    ]  # fmt: skip
    emb = TableEmbeddings({t: v.tolist() for t, v in zip(texts, vectors, strict=True)})
    peer = langchain_redis.RedisVectorStore(
        emb, index_name=f"{namespace}:st", key_prefix=f"{namespace}:stpeer",
        redis_url=redis_url, embedding_dimensions=DIMS, storage_type=storage,
        metadata_schema=[{"name": "genre", "type": "tag"}],
    )  # fmt: skip
    keys = peer.add_texts(texts, metas)
    assert migrate_vectors(f"{namespace}:st", peer="langchain-redis", to="st", config=config,
                           batch_size=7).verified  # fmt: skip
    index = VectorIndex.from_existing("st", config=config)
    ids = _ids_by_text(index)
    index.add(["t5"], ids=[ids["t5"]], metadatas=[metas[5]], vectors=vectors[6:7])
    emb.table.update({f"{t} v2": v.tolist() for t, v in zip(texts, vectors, strict=True)})
    peer.add_texts([f"{t} v2" for t in texts], metas, keys=keys)  # the source changes all
    report = migrate_vectors(f"{namespace}:st", peer="langchain-redis", to="st",
                             config=config, batch_size=7)  # fmt: skip
    kept = {f"{t} v2" for t in texts if t != "t5"} | {"t5"}  # the pack's re-embedded t5
    assert {h.text for h in index.find(None, limit=50)} == kept
    assert report.skipped == {"changed_in_pack": [ids["t5"]]}
    assert report.written == 39 and report.verified


def test_the_cli_run_again_skips_and_stops_asking_to_run_again(
    lc_peer: tuple[object, TableEmbeddings],
    config: RedisAgentConfig,
    redis_url: str,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # it re-created a document deleted in the pack; and when the pack had added one,
    # it exited 3 with "run the command again" on every run
    argv = ["migrate", "vectors", "--from", "langchain-redis", "--index", f"{namespace}:lc",
            "--to", "cli2", "--url", redis_url, "--namespace", namespace]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    index = VectorIndex.from_existing("cli2", config=config)
    gone = _ids_by_text(index)["passage 4"]
    index.delete([gone])
    index.add(["pack only"], ids=["pack-only"], vectors=np.ones((1, DIMS)))
    assert main(argv) == 0
    assert not index.get([gone])
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["skipped"] == {"deleted_in_pack": {"count": 1, "ids": [gone]}}
    assert report["written"] == 0 and report["verified"]
    assert "1 document(s) skipped, copied by an earlier run, then deleted in the pack" in err
    assert repr(gone) in err and "--overwrite" in err
    assert main([*argv, "--overwrite"]) == 0
    assert index.get([gone])[0].text == "passage 4"


def test_a_count_the_source_index_cannot_reach_names_no_rerun(
    lc_peer: tuple[object, TableEmbeddings],
    redis_url: str,
    namespace: str,
    redis_client: redis.Redis,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # a key under the source's prefix its index failed to index (a numeric field
    # holding text) is copied, so the counts differ on every run: it said "run the
    # command again" each time
    redis_client.hset(f"{namespace}:lcpeer:odd", mapping={
        "text": "odd", "embedding": np.ones(DIMS, dtype=np.float32).tobytes(),
        "year": "not a number", "_metadata_json": json.dumps({"year": 1999}),
    })  # fmt: skip
    argv = ["migrate", "vectors", "--from", "langchain-redis", "--index", f"{namespace}:lc",
            "--to", "odd", "--url", redis_url, "--namespace", namespace]  # fmt: skip
    for _ in range(2):
        assert main(argv) == 3
        out, err = capsys.readouterr()
        assert "run the command again" not in err
        assert "hash_indexing_failures" in err and "Running again will not change this" in err
    report = json.loads(out)
    assert report["read"] == N + 1 and report["source_docs"] == N and report["written"] == 0
