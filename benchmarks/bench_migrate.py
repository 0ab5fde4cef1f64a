"""``redis-agent migrate vectors``: a 20k-document index built by langchain-redis 0.2.6
(its defaults: FLAT, cosine, hash) and one by llama-index-vector-stores-redis (its
default schema: FLAT, cosine, hash, prefix + "_" + node id, with our dimension; the
package pins redisvl<0.5, so it runs in a venv of its own, the one bench_vectors builds),
plus the same layout written here with redisvl and LlamaIndex's own
``node_to_metadata_dict`` (no second venv needed), are migrated into the pack; the top-10
answers of 100 queries are compared with the peer's before migration, an interrupted
migration is resumed, and documents per second are reported.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import redis

from benchmarks.common import bench_server, machine_note, table
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.migrate import migrate_vectors
from redis_agent_core.vectors import VectorIndex

DIMS = 384
QUERIES = 100
K = 10


def _clustered(rng: np.random.Generator, n: int, clusters: int = 50) -> np.ndarray:
    """Unit vectors around a few centres: embedding-like data."""
    centres = rng.normal(size=(clusters, DIMS))
    vectors = centres[rng.integers(0, clusters, size=n)] + 0.35 * rng.normal(size=(n, DIMS))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _queries(rng: np.random.Generator, vectors: np.ndarray) -> np.ndarray:
    picked = vectors[rng.choice(len(vectors), QUERIES, replace=False)]
    noisy = picked + 0.05 * rng.normal(size=picked.shape)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def _recall(peer: list[list[str]], ours: list[list[str]]) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(peer, ours, strict=True)]))


def _ours(config: RedisAgentConfig, name: str, queries: np.ndarray) -> list[list[str]]:
    index = VectorIndex.from_existing(name, config=config)
    return [[h.text for h in index.search(q, K)] for q in queries]


def _migrate(source: str, peer: str, to: str, config: RedisAgentConfig) -> dict[str, Any]:
    report = migrate_vectors(source, peer=peer, to=to, config=config)
    assert report.verified, report
    return report.to_dict()


def _interrupted(
    source: str, peer: str, config: RedisAgentConfig, n: int, to: str | None = None
) -> dict[str, Any]:
    """Stop after 10 batches, resume; the target must hold each document once."""
    to = to or f"{peer.split('-')[0]}_resumed"
    first = migrate_vectors(source, peer=peer, to=to, config=config, max_batches=10)
    rest = migrate_vectors(source, peer=peer, to=to, config=config)
    index = VectorIndex.from_existing(to, config=config)
    ids = [h.id for h in index.find(None, limit=n + 100)]
    return {
        "first_written": first.written,
        "resumed": rest.resumed,
        "target_docs": rest.target_docs,
        "unique_ids": len(set(ids)),
        "verified": rest.verified,
    }


def _langchain(url: str, config: RedisAgentConfig, texts: list[str], vectors: np.ndarray,
               queries: np.ndarray) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    from langchain_core.embeddings import Embeddings
    from langchain_redis import RedisVectorStore

    table_ = {t: v for t, v in zip(texts, vectors.tolist(), strict=True)}

    class Table(Embeddings):
        def embed_documents(self, batch: list[str]) -> list[list[float]]:
            return [table_[t] for t in batch]

        def embed_query(self, text: str) -> list[float]:
            return table_[text]

    name = f"lc_{uuid.uuid4().hex[:6]}"
    peer = RedisVectorStore(
        Table(), index_name=name, redis_url=url, embedding_dimensions=DIMS,
        metadata_schema=[{"name": "genre", "type": "tag"}, {"name": "year", "type": "numeric"}],
    )  # fmt: skip
    genres = ["jazz", "rock", "folk"]
    metas = [{"genre": genres[i % 3], "year": 1950 + i % 70} for i in range(len(texts))]
    started = time.perf_counter()
    peer.add_texts(texts, metas, batch_size=1000)
    built = time.perf_counter() - started
    theirs = [[d.page_content for d in peer.similarity_search_by_vector(q.tolist(), k=K)]
              for q in queries]  # fmt: skip
    report = _migrate(name, "langchain-redis", "lc", config)
    recall = _recall(theirs, _ours(config, "lc", queries))
    resumed = _interrupted(name, "langchain-redis", config, len(texts))
    row = ["langchain-redis 0.2.6 (FLAT, hash)", len(texts), len(texts) / built,
           report["docs_per_second"], f"{recall:.3f}", _resume_text(resumed)]  # fmt: skip
    return row, resumed


def _llama(url: str, config: RedisAgentConfig, texts: list[str], vectors: np.ndarray,
           queries: np.ndarray) -> tuple[list[Any], dict[str, Any]]:  # fmt: skip
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
    from llama_index.core.vector_stores.utils import node_to_metadata_dict
    from redisvl.index import SearchIndex
    from redisvl.query import VectorQuery

    name = f"li_{uuid.uuid4().hex[:6]}"
    client = redis.Redis.from_url(url)
    index = SearchIndex.from_dict({
        "index": {"name": name, "prefix": f"{name}/vector", "key_separator": "_",
                  "storage_type": "hash"},
        "fields": [
            {"name": "id", "type": "tag"}, {"name": "doc_id", "type": "tag"},
            {"name": "text", "type": "text"}, {"name": "genre", "type": "tag"},
            {"name": "vector", "type": "vector",
             "attrs": {"dims": DIMS, "algorithm": "flat", "distance_metric": "cosine"}},
        ],
    }, redis_client=client)  # fmt: skip
    index.create()
    started = time.perf_counter()
    records = []
    for i, (text, vector) in enumerate(zip(texts, vectors, strict=True)):
        source = {NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"doc-{i % 1000}")}
        node = TextNode(id_=f"node-{i}", text=text, relationships=source,
                        metadata={"genre": ["jazz", "rock", "folk"][i % 3]})  # fmt: skip
        records.append({
            "id": node.node_id, "doc_id": node.ref_doc_id, "text": text,
            "vector": vector.tobytes(),
            **node_to_metadata_dict(node, remove_text=True, flat_metadata=False),
        })  # fmt: skip
    index.load(records, id_field="id", batch_size=1000)
    built = time.perf_counter() - started
    theirs = [[r["text"] for r in index.query(VectorQuery(q.tolist(), "vector", num_results=K,
                                                          return_fields=["text"]))]
              for q in queries]  # fmt: skip
    report = _migrate(name, "llama-index", "li", config)
    recall = _recall(theirs, _ours(config, "li", queries))
    resumed = _interrupted(name, "llama-index", config, len(texts))
    client.close()
    row = ["llama-index layout (FLAT, hash)", len(texts), len(texts) / built,
           report["docs_per_second"], f"{recall:.3f}", _resume_text(resumed)]  # fmt: skip
    return row, resumed


# Run in the peer's own venv (bench_vectors.peer_python): the real
# llama-index-vector-stores-redis writes the index at its default schema (dimension
# set to ours) and answers the queries before migration.
_LI_PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery
from llama_index.vector_stores.redis import RedisVectorStore
from llama_index.vector_stores.redis.schema import RedisVectorStoreSchema
from redis import Redis
from redis.asyncio import Redis as AsyncRedis

args = json.loads(sys.argv[1])
texts = json.load(open(args["texts"]))
vectors = np.load(args["vectors"])
queries = np.load(args["queries"])
schema = RedisVectorStoreSchema()
schema.index.name = args["name"]
schema.index.prefix = args["name"] + "/vector"
schema.fields["vector"].attrs.dims = vectors.shape[1]
# Its default async client reads host/port from the sync one: wrong for unix sockets.
store = RedisVectorStore(schema=schema, redis_client=Redis.from_url(args["url"]),
                         redis_client_async=AsyncRedis.from_url(args["url"]), overwrite=True)
genres = ["jazz", "rock", "folk"]
source = NodeRelationship.SOURCE
nodes = [TextNode(text=t, id_=f"node-{i}", embedding=v, metadata={"genre": genres[i % 3]},
                  relationships={source: RelatedNodeInfo(node_id=f"doc-{i % 1000}")})
         for i, (t, v) in enumerate(zip(texts, vectors.tolist()))]
start = time.perf_counter()
store.add(nodes)
built = time.perf_counter() - start
found = [[n.get_content() for n in store.query(
    VectorStoreQuery(query_embedding=q, similarity_top_k=args["k"])).nodes]
    for q in queries.tolist()]
print(json.dumps({"built_s": built, "found": found}))
"""


def _llama_peer(url: str, config: RedisAgentConfig, texts: list[str], vectors: np.ndarray,
                queries: np.ndarray) -> list[Any]:  # fmt: skip
    """The same documents written by llama-index-vector-stores-redis itself."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    from benchmarks.bench_vectors import peer_python

    label = "llama-index-vector-stores-redis (FLAT, hash; the package, own venv)"
    python, reason = peer_python()
    if python is None:
        return [label, len(texts), "-", "-", "-", f"not run: {reason}"]
    name = f"lireal_{uuid.uuid4().hex[:6]}"
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: str(Path(tmp) / k) for k in ("texts", "vectors.npy", "queries.npy")}
        Path(paths["texts"]).write_text(json.dumps(texts))
        np.save(paths["vectors.npy"], vectors)
        np.save(paths["queries.npy"], queries)
        args = {"url": url, "name": name, "k": K, "texts": paths["texts"],
                "vectors": paths["vectors.npy"], "queries": paths["queries.npy"]}  # fmt: skip
        result = subprocess.run(
            [str(python), "-c", _LI_PEER_SCRIPT, json.dumps(args)],
            capture_output=True, text=True, timeout=1800,
        )  # fmt: skip
    if result.returncode != 0:
        tail = (result.stderr.strip().splitlines() or ["?"])[-1][:200]
        return [label, len(texts), "-", "-", "-", f"peer run failed: {tail}"]
    peer = json.loads(result.stdout.strip().splitlines()[-1])
    report = _migrate(name, "llama-index", "lireal", config)
    recall = _recall(peer["found"], _ours(config, "lireal", queries))
    resumed = _interrupted(name, "llama-index", config, len(texts), to="lireal_resumed")
    return [label, len(texts), len(texts) / peer["built_s"], report["docs_per_second"],
            f"{recall:.3f}", _resume_text(resumed)]  # fmt: skip


def _resume_text(r: dict[str, Any]) -> str:
    return (
        f"stopped at {r['first_written']:,}, resumed: {r['target_docs']:,} docs, "
        f"{r['unique_ids']:,} unique ids, verified {r['verified']}"
    )


def main(full: bool = False) -> str:
    n = 50_000 if full else 20_000
    rng = np.random.default_rng(2026)
    vectors = _clustered(rng, n)
    texts = [f"passage {i}" for i in range(n)]
    queries = _queries(rng, vectors)
    rows = []
    with bench_server() as url:
        config = RedisAgentConfig(url=url, namespace=f"mig{uuid.uuid4().hex[:6]}")
        rows.append(_langchain(url, config, texts, vectors, queries)[0])
        rows.append(_llama(url, config, texts, vectors, queries)[0])
        rows.append(_llama_peer(url, config, texts, vectors, queries))
        config.close()
    headers = ["source", "docs", "peer build docs/s", "migrate docs/s",
               f"recall@{K} vs peer ({QUERIES} queries)",
               "interrupted after 10 batches"]  # fmt: skip
    return "\n\n".join([
        "# Migrating vector indexes (`redis-agent migrate vectors`)",
        __doc__.strip().replace("\n", " ") if __doc__ else "",
        f"{n:,} clustered 384-d unit vectors; queries are stored vectors plus noise; "
        "recall@10 compares the texts of the pack's top 10 after migration with the peer's "
        "top 10 before it. Batches of 500 (the default). `peer build docs/s` is the peer "
        "writing the same documents with precomputed vectors, for scale.",
        table(headers, rows),
        machine_note(),
        "Command: `flock /work/wt/bench.lock .venv/bin/python -m benchmarks migrate`",
    ])  # fmt: skip


if __name__ == "__main__":
    print(main())
