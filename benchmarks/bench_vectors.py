"""Vector search: ours vs langchain-redis, the LlamaIndex Redis store and raw redisvl.

Same server, same run, same data: embedding-like 384-d vectors built from real
all-MiniLM-L6-v2 embeddings of 2,000 generated sentences (cached under
~/.cache/redis-agent-pack) expanded by mixing (see ``expand``), each tagged with one of
10 categories; queries are real embeddings of 200 other sentences. Every store gets the
precomputed vectors (a lookup "embedding model"), so ingest measures storage, not the
model. Ingest is compared per index type (FLAT vs FLAT, HNSW vs HNSW): HNSW ingest is
bound by the server's graph construction. Searches are by vector at k=10 (median/p99
over the query set), recall@10 against exact brute force (numpy), unfiltered and with a
category filter. Bytes/doc is the keys' MEMORY USAGE plus the index's structures
(FT.INFO), per document. The LlamaIndex store pins redisvl < 0.5, so it runs in its own
virtualenv (benchmarks/.venv-llamaindex-vectors, built on first use) in a subprocess.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import redis

from benchmarks.common import bench_server, machine_note, median_us, p99_us, table

warnings.filterwarnings("ignore")

HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".venv-llamaindex-vectors"
PEER_PACKAGES = ["llama-index-vector-stores-redis", "numpy"]
CACHE = Path(os.environ.get("REDIS_AGENT_CACHE_DIR", Path.home() / ".cache" / "redis-agent-pack"))
K = 10
FLAT_EXTRA_ROUNDS = int(os.environ.get("BENCH_VECTORS_ROUNDS", 9)) - 1
BASE = 2_000  # sentences embedded for real with MiniLM
CATEGORIES = 10

SUBJECTS = [
    "the engineer",
    "a customer",
    "our team",
    "the model",
    "the database",
    "a student",
    "the support bot",
    "the manager",
    "an analyst",
    "the service",
    "the cluster",
    "a researcher",
    "the pipeline",
    "the agent",
    "a developer",
    "the scheduler",
]
VERBS = [
    "reviewed",
    "rejected",
    "migrated",
    "summarised",
    "cached",
    "indexed",
    "benchmarked",
    "debugged",
    "deployed",
    "queried",
    "translated",
    "archived",
    "scaled",
    "audited",
]
OBJECTS = [
    "the quarterly report",
    "a vector index",
    "the billing service",
    "a chat history",
    "the invoice backlog",
    "a recipe for bread",
    "the travel itinerary",
    "a rate limit",
    "the Redis cluster",
    "a support ticket",
    "the marketing plan",
    "a shipping delay",
    "the payroll export",
    "a football match",
    "the weather forecast",
    "a poem",
]
DETAILS = [
    "before the deadline",
    "after a long outage",
    "for the Paris office",
    "in March",
    "with two colleagues",
    "using Python",
    "late at night",
    "for a new client",
    "without any errors",
    "during the migration",
    "on a slow network",
    "twice",
    "for the board meeting",
    "in under an hour",
    "with mixed results",
    "in German",
]


def sentences(n: int, seed: int) -> list[str]:
    """``n`` distinct generated sentences (topic-like structure, as real corpora have)."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        s, v, o, d = (rng.integers(len(x)) for x in (SUBJECTS, VERBS, OBJECTS, DETAILS))
        text = f"{SUBJECTS[s]} {VERBS[v]} {OBJECTS[o]} {DETAILS[d]} (#{len(out)})"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


def embedded(texts: list[str], name: str) -> np.ndarray:
    """MiniLM embeddings of ``texts``, cached on disk (outside the repo)."""
    path = CACHE / f"bench_vectors_{name}_{len(texts)}.npy"
    if path.exists():
        return np.load(path)
    from redis_agent_core.embeddings import default_embedder

    started = time.perf_counter()
    vectors = default_embedder().embed(texts)
    print(f"embedded {len(texts)} texts in {time.perf_counter() - started:.0f}s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def expand(base: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` embedding-like vectors from real embeddings: the first ``len(base)`` are the
    real ones, the rest mix two of them plus a little noise (then unit-normalise). On a
    loaded 2-core machine MiniLM embeds ≈ 30-600 sentences/s, so 20k-100k real embeddings
    would dominate the run; the mixture keeps their anisotropy and cluster structure,
    unlike iid Gaussian vectors (a worst case for HNSW)."""
    if n <= len(base):
        return base[:n]
    extra = n - len(base)
    i = rng.integers(0, len(base), size=extra)
    j = rng.integers(0, len(base), size=extra)
    w = rng.uniform(0.2, 0.6, size=(extra, 1)).astype(np.float32)
    noise = rng.normal(scale=0.015, size=(extra, base.shape[1])).astype(np.float32)
    mixed = base[i] + w * base[j] + noise
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.vstack([base, mixed]).astype(np.float32)


def exact_topk(
    docs: np.ndarray, queries: np.ndarray, mask: np.ndarray | None = None
) -> list[set[int]]:
    sims = queries @ docs.T
    if mask is not None:
        sims = np.where(mask, sims, -np.inf)
    top = np.argsort(-sims, axis=1)[:, :K]
    return [set(row.tolist()) for row in top]


def recall(found: Sequence[Sequence[int]], truth: Sequence[set[int]]) -> float:
    return sum(len(set(f) & t) for f, t in zip(found, truth, strict=True)) / (K * len(truth))


def footprint(client: redis.Redis, index_name: str) -> int:
    """Bytes held for the documents: every key's MEMORY USAGE plus the index's vector
    and other structures (FT.INFO). Only this store's data is on the server then.
    (``used_memory`` deltas are skewed by memory the previous store freed lazily.)"""
    pipe = client.pipeline(transaction=False)
    for key in client.scan_iter(count=2000):
        pipe.memory_usage(key, samples=0)
    total = sum(int(x or 0) for x in pipe.execute())
    info = client.execute_command("FT.INFO", index_name)
    info = {(k.decode() if isinstance(k, bytes) else k): v for k, v in info.items()}
    mb = float(info["vector_index_sz_mb"]) + float(info["total_index_memory_sz_mb"])
    return total + int(mb * 1024 * 1024)


class Lookup:
    """A LangChain ``Embeddings`` returning precomputed vectors (no model cost)."""

    def __init__(self, texts: list[str], vectors: np.ndarray, queries: list[str], qv: np.ndarray):
        self.rows = {t: r for t, r in zip(texts, vectors.tolist(), strict=True)}
        self.rows.update({t: r for t, r in zip(queries, qv.tolist(), strict=True)})

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.rows.get(t) or self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        # langchain-redis probes its model with a fixed sentence at construction.
        return self.rows.get(text) or next(iter(self.rows.values()))

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_documents(texts)

    async def aembed_query(self, text: str) -> list[float]:
        return self.embed_query(text)


def lookup_embeddings(*args: Any) -> Any:
    from langchain_core.embeddings import Embeddings

    class LookupEmbeddings(Lookup, Embeddings):
        pass

    return LookupEmbeddings(*args)


def timed_queries(run: Callable[[int], list[int]], n: int) -> tuple[list[float], list[list[int]]]:
    for i in range(min(10, n)):  # warm up
        run(i)
    samples, found = [], []
    for i in range(n):
        start = time.perf_counter()
        ids = run(i)
        samples.append(time.perf_counter() - start)
        found.append(ids)
    return samples, found


# -- the LlamaIndex peer in its own venv --
PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (MetadataFilter, MetadataFilters,
    VectorStoreQuery)
from llama_index.vector_stores.redis import RedisVectorStore
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from redisvl.schema import IndexSchema

args = json.loads(sys.argv[1])
texts = json.load(open(args["texts"]))
cats = json.load(open(args["cats"]))
vectors = np.load(args["vectors"])
queries = np.load(args["queries"])
qcats = json.load(open(args["qcats"]))
client = Redis.from_url(args["url"])
schema = IndexSchema.from_dict({
    "index": {"name": "li_peer", "prefix": "li_peer"},
    "fields": [
        {"type": "tag", "name": "id"}, {"type": "tag", "name": "doc_id"},
        {"type": "text", "name": "text"}, {"type": "tag", "name": "category"},
        {"type": "vector", "name": "vector", "attrs": {"dims": vectors.shape[1],
         "algorithm": "flat", "distance_metric": "cosine"}},
    ],
})
# Its default async client reads host/port from the sync one: wrong for unix sockets.
store = RedisVectorStore(schema=schema, redis_client=client, overwrite=True,
                         redis_client_async=AsyncRedis.from_url(args["url"]))
nodes = [TextNode(text=t, id_=str(i), embedding=v, metadata={"category": c})
         for i, (t, v, c) in enumerate(zip(texts, vectors.tolist(), cats))]
start = time.perf_counter()
store.add(nodes)
ingest = time.perf_counter() - start
index_of = {t: i for i, t in enumerate(texts)}
out = {"ingest_s": ingest}
for label, use_filter in (("plain", False), ("filtered", True)):
    samples, found = [], []
    for i, q in enumerate(queries.tolist()):
        filters = None
        if use_filter:
            filters = MetadataFilters(filters=[MetadataFilter(key="category", value=qcats[i])])
        query = VectorStoreQuery(query_embedding=q, similarity_top_k=10, filters=filters)
        t0 = time.perf_counter()
        res = store.query(query)
        samples.append(time.perf_counter() - t0)
        found.append([index_of[n.get_content()] for n in res.nodes])
    out[label] = {"samples": samples[10:], "found": found[10:]}
print(json.dumps(out))  # the index stays: the parent measures its memory
"""


def peer_python() -> tuple[Path | None, str]:
    """The peer venv's python, built on first use; or ``None`` and the reason."""
    python = PEER_VENV / "bin" / "python"
    probe = [str(python), "-c", "import llama_index.vector_stores.redis, redisvl"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python, ""
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", str(PEER_VENV)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not build its virtualenv: {exc}"
    if result.returncode != 0:
        return None, "pip install failed: " + result.stderr.strip().splitlines()[-1][:200]
    return python, ""


def run_peer(
    url: str,
    texts: list[str],
    cats: list[str],
    vectors: np.ndarray,
    queries: np.ndarray,
    qcats: list[str],
) -> tuple[dict[str, Any] | None, str]:
    python, reason = peer_python()
    if python is None:
        return None, reason
    with tempfile.TemporaryDirectory() as tmp:
        paths = {
            name: str(Path(tmp) / name)
            for name in ("texts", "cats", "vectors.npy", "queries.npy", "qcats")
        }
        Path(paths["texts"]).write_text(json.dumps(texts))
        Path(paths["cats"]).write_text(json.dumps(cats))
        Path(paths["qcats"]).write_text(json.dumps(qcats))
        np.save(paths["vectors.npy"], vectors)
        np.save(paths["queries.npy"], queries)
        args = {
            "url": url,
            "texts": paths["texts"],
            "cats": paths["cats"],
            "vectors": paths["vectors.npy"],
            "queries": paths["queries.npy"],
            "qcats": paths["qcats"],
        }
        result = subprocess.run(
            [str(python), "-c", PEER_SCRIPT, json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=1200,
        )
    if result.returncode != 0:
        return None, "peer run failed: " + (result.stderr.strip().splitlines() or ["?"])[-1][:200]
    return json.loads(result.stdout.strip().splitlines()[-1]), ""


def main(full: bool) -> str:
    from langchain_redis import RedisVectorStore as LCRedis
    from redisvl.index import SearchIndex
    from redisvl.query import VectorQuery
    from redisvl.query.filter import Tag
    from redisvl.schema import IndexSchema

    from langchain_redis_agent import RedisVectorStore
    from redis_agent_core.capabilities import get_capabilities
    from redis_agent_core.config import RedisAgentConfig
    from redis_agent_core.vectors import F, VectorIndex

    n = int(os.environ.get("BENCH_VECTORS_N", 100_000 if full else 20_000))
    nq = 210  # 10 warm-up + 200 timed
    texts = sentences(n, seed=1)
    queries = sentences(nq, seed=2)
    queries = [f"query: {q}" for q in queries]
    vectors = expand(embedded(texts[:BASE], "docs"), n, np.random.default_rng(4))
    qv = embedded(queries, "queries")
    rng = np.random.default_rng(3)
    cats = [f"c{int(x)}" for x in rng.integers(0, CATEGORIES, size=n)]
    qcats = [f"c{int(x)}" for x in rng.integers(0, CATEGORIES, size=nq)]
    cat_arr = np.array(cats)
    truth = exact_topk(vectors, qv[10:])
    ftruth = exact_topk(vectors, qv[10:], cat_arr[None, :] == np.array(qcats[10:])[:, None])
    index_of = {t: i for i, t in enumerate(texts)}
    emb = lookup_embeddings(texts, vectors, queries, qv)
    metas = [{"category": c} for c in cats]
    qlists = qv.tolist()

    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    with bench_server() as url:
        client = redis.Redis.from_url(url)
        client.flushall()

        def measure(
            name: str,
            kind: str,
            index_name: str,
            ingest: Callable[[], Any],
            search: Callable[[int], list[int]],
            fsearch: Callable[[int], list[int]],
            cleanup: Callable[[], Any],
        ) -> None:
            start = time.perf_counter()
            ingest()
            seconds = time.perf_counter() - start
            mem = footprint(client, index_name)
            s_samples, s_found = timed_queries(search, nq)
            f_samples, f_found = timed_queries(fsearch, nq)
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "ingest": n / seconds,
                    "s50": median_us(s_samples[10:]),
                    "s99": p99_us(s_samples[10:]),
                    "recall": recall(s_found[10:], truth),
                    "f50": median_us(f_samples[10:]),
                    "f99": p99_us(f_samples[10:]),
                    "frecall": recall(f_found[10:], ftruth),
                    "bytes": mem / n,
                }
            )
            print(f"{name} {kind}: {rows[-1]}", flush=True)
            cleanup()
            client.flushall()

        config = RedisAgentConfig(url=url, namespace="bench")
        get_capabilities(config)  # the once-per-process server probe is not ingest time

        # -- ours, through the LangChain adapter (what a LangChain user calls) --
        for kind in ("FLAT", "HNSW"):
            store = RedisVectorStore(
                emb,
                index_name=f"ours_{kind}",
                config=config,
                algorithm=kind.lower(),
                metadata_fields={"category": "tag"},
            )
            store.index.create()  # the peers create theirs before ingest too
            measure(
                "ours (LangChain RedisVectorStore)",
                kind,
                store.index.index_name,
                lambda s=store: s.add_texts(texts, metas, ids=[str(i) for i in range(n)]),
                lambda i, s=store: [int(d.id) for d in s.similarity_search_by_vector(qlists[i], K)],
                lambda i, s=store: [
                    int(d.id)
                    for d in s.similarity_search_by_vector(
                        qlists[i], K, filter={"category": qcats[i]}
                    )
                ],
                lambda s=store: s.index.drop(),
            )

        # -- ours, core VectorIndex (no framework objects) --
        core = VectorIndex(
            "core",
            config=config,
            dims=vectors.shape[1],
            algorithm="flat",
            metadata_fields={"category": "tag"},
        )
        core.create()
        measure(
            "ours (core VectorIndex)",
            "FLAT",
            core.index_name,
            lambda: core.add(
                texts, ids=[str(i) for i in range(n)], metadatas=metas, vectors=vectors
            ),
            lambda i: [int(h.id) for h in core.search(qv[i], K)],
            lambda i: [int(h.id) for h in core.search(qv[i], K, filter=F("category") == qcats[i])],
            lambda: core.drop(),
        )

        # -- langchain-redis --
        for kind in ("FLAT", "HNSW"):
            lc = LCRedis(
                emb,
                index_name=f"lc_{kind}",
                redis_url=url,
                indexing_algorithm=kind,
                metadata_schema=[{"name": "category", "type": "tag"}],
            )
            measure(
                "langchain-redis 0.2.6",
                kind,
                lc.index.name,
                lambda lc=lc: lc.add_texts(texts, metas),
                lambda i, lc=lc: [
                    index_of[d.page_content] for d in lc.similarity_search_by_vector(qlists[i], K)
                ],
                lambda i, lc=lc: [
                    index_of[d.page_content]
                    for d in lc.similarity_search_by_vector(
                        qlists[i], K, filter=Tag("category") == qcats[i]
                    )
                ],
                lambda lc=lc: lc.index.delete(drop=True),
            )

        # -- raw redisvl (the floor: no framework objects) --
        def rv_schema(kind: str) -> dict[str, Any]:
            vector_attrs = {
                "dims": vectors.shape[1],
                "algorithm": kind.lower(),
                "distance_metric": "cosine",
            }
            return {
                "index": {"name": f"rv_{kind}", "prefix": f"rv_{kind}"},
                "fields": [
                    {"name": "text", "type": "text"},
                    {"name": "category", "type": "tag"},
                    {"name": "embedding", "type": "vector", "attrs": vector_attrs},
                ],
            }

        for kind in ("FLAT", "HNSW"):
            schema = IndexSchema.from_dict(rv_schema(kind))
            rv = SearchIndex(schema, redis_client=client)
            rv.create(overwrite=True)
            blobs = [v.tobytes() for v in vectors]

            def rv_load(rv: Any = rv, blobs: list[bytes] = blobs) -> None:
                rv.load(
                    (
                        {"text": t, "category": c, "embedding": b, "i": i}
                        for i, (t, c, b) in enumerate(zip(texts, cats, blobs, strict=True))
                    ),
                    id_field="i",
                )

            def rv_search(i: int, rv: Any = rv, f: Any = None) -> list[int]:
                query = VectorQuery(
                    qv[i].tobytes(),
                    "embedding",
                    return_fields=["text"],
                    num_results=K,
                    filter_expression=f,
                )
                return [index_of[d["text"]] for d in rv.query(query)]

            measure(
                "raw redisvl 0.28",
                kind,
                rv.name,
                rv_load,
                rv_search,
                lambda i, rv=rv: rv_search(i, rv, Tag("category") == qcats[i]),
                lambda rv=rv: rv.delete(drop=True),
            )

        # -- ingest again: this machine is shared, so more rounds, interleaved (the order
        # rotates each round), and the median over rounds is reported, with the median of
        # the per-round ratios (each pair measured seconds apart, under the same load).
        # FLAT: nine rounds per store (langchain-redis alone swings 3-4x between rounds
        # here); HNSW (slow, server-bound): three for ours and langchain-redis.
        ids = [str(i) for i in range(n)]

        def again_ours(kind: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
            store = RedisVectorStore(
                emb,
                index_name=f"ours_{kind}",
                config=config,
                algorithm=kind.lower(),
                metadata_fields={"category": "tag"},
            )
            store.index.create()
            return (lambda: store.add_texts(texts, metas, ids=ids)), store.index.drop

        def again_core(kind: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
            index = VectorIndex(
                "core",
                config=config,
                dims=vectors.shape[1],
                algorithm=kind.lower(),
                metadata_fields={"category": "tag"},
            )
            index.create()
            return (lambda: index.add(texts, ids=ids, metadatas=metas, vectors=vectors)), index.drop

        def again_lc(kind: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
            lc = LCRedis(
                emb,
                index_name=f"lc_{kind}",
                redis_url=url,
                indexing_algorithm=kind,
                metadata_schema=[{"name": "category", "type": "tag"}],
            )
            return (lambda: lc.add_texts(texts, metas)), (lambda: lc.index.delete(drop=True))

        def again_rv(kind: str) -> tuple[Callable[[], Any], Callable[[], Any]]:
            rv = SearchIndex(IndexSchema.from_dict(rv_schema(kind)), redis_client=client)
            rv.create(overwrite=True)
            blobs = [v.tobytes() for v in vectors]
            docs = [
                {"text": t, "category": c, "embedding": b, "i": i}
                for i, (t, c, b) in enumerate(zip(texts, cats, blobs, strict=True))
            ]
            return (lambda: rv.load(docs, id_field="i")), (lambda: rv.delete(drop=True))

        rates: dict[tuple[str, str], list[float]] = {
            (r["name"], r["kind"]): [r["ingest"]] for r in rows
        }
        plan = {
            "FLAT": (
                FLAT_EXTRA_ROUNDS,
                {
                    "ours (LangChain": again_ours,
                    "ours (core": again_core,
                    "langchain-redis": again_lc,
                    "raw redisvl": again_rv,
                },
            ),
            "HNSW": (2, {"ours (LangChain": again_ours, "langchain-redis": again_lc}),
        }
        for kind, (extra, builders) in plan.items():
            order = list(builders)
            for round_ in range(extra):
                shift = (round_ + 1) % len(order)
                for prefix in order[shift:] + order[:shift]:
                    ingest, cleanup = builders[prefix](kind)
                    start = time.perf_counter()
                    ingest()
                    rate = n / (time.perf_counter() - start)
                    cleanup()
                    client.flushall()
                    row = next(
                        r for r in rows if r["name"].startswith(prefix) and r["kind"] == kind
                    )
                    rates[(row["name"], kind)].append(rate)
        for row in rows:
            samples = rates[(row["name"], row["kind"])]
            row["ingest"] = statistics.median(samples)
            row["rounds"] = len(samples)
            row["spread"] = (min(samples), max(samples))
            row["samples"] = samples

        # -- what the lookup "embedding model" costs, and turning its lists into floats --
        started = time.perf_counter()
        lists = emb.embed_documents(texts)
        embed_s = time.perf_counter() - started
        started = time.perf_counter()
        np.asarray(lists, dtype=np.float32)
        asarray_s = time.perf_counter() - started
        from redis_agent_core.vectors.schema import to_matrix

        started = time.perf_counter()
        to_matrix(lists)
        to_matrix_s = time.perf_counter() - started
        notes.append(
            f"The embeddings object (a lookup of precomputed vectors, shared by every "
            f"LangChain store) costs {embed_s * 1e3:.0f} ms per {n:,} texts; turning its "
            f"lists of floats into float32 costs {asarray_s * 1e3:.0f} ms with "
            f"np.asarray and {to_matrix_s * 1e3:.0f} ms with ours (struct per row). "
            "Both are inside the LangChain rows' ingest times."
        )

        # -- the LlamaIndex peer, FLAT (its default), in its own venv --
        started = time.perf_counter()
        peer, reason = run_peer(url, texts, cats, vectors, qv, qcats)
        if peer is None:
            notes.append(f"llama-index-vector-stores-redis: unavailable ({reason}).")
        else:
            rows.append(
                {
                    "name": "llama-index-vector-stores-redis",
                    "kind": "FLAT",
                    "ingest": n / peer["ingest_s"],
                    "s50": median_us(peer["plain"]["samples"]),
                    "s99": p99_us(peer["plain"]["samples"]),
                    "recall": recall(peer["plain"]["found"], truth),
                    "f50": median_us(peer["filtered"]["samples"]),
                    "f99": p99_us(peer["filtered"]["samples"]),
                    "frecall": recall(peer["filtered"]["found"], ftruth),
                    "bytes": footprint(client, "li_peer") / n,
                }
            )
            print(f"peer done in {time.perf_counter() - started:.0f}s", flush=True)
        client.close()

    return report(rows, notes, n, full)


def report(rows: list[dict[str, Any]], notes: list[str], n: int, full: bool) -> str:
    def find(name: str, kind: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["name"].startswith(name) and r["kind"] == kind), None)

    lc_flat = find("langchain-redis", "FLAT")
    headers = [
        "store",
        "index",
        "ingest docs/s",
        "search p50 µs",
        "p99 µs",
        "recall@10",
        "filtered p50 µs",
        "p99 µs",
        "recall@10",
        "bytes/doc",
    ]
    body = [
        [
            r["name"],
            r["kind"],
            round(r["ingest"]),
            r["s50"],
            r["s99"],
            f"{r['recall']:.3f}",
            r["f50"],
            r["f99"],
            f"{r['frecall']:.3f}",
            round(r["bytes"]),
        ]
        for r in rows
    ]
    ratio_rows = []
    for kind in ("FLAT", "HNSW"):
        ours, peer = find("ours (LangChain", kind), find("langchain-redis", kind)
        if ours and peer:
            ratio_rows.append(
                [
                    f"ingest, {kind} vs {kind} (medians of {ours.get('rounds', 1)} "
                    f"and {peer.get('rounds', 1)} rounds)",
                    f"{ours['ingest'] / peer['ingest']:.2f}×",
                    "≥ 1.8×",
                ]
            )
            pairs = zip(ours.get("samples", []), peer.get("samples", []), strict=False)
            paired = [a / b for a, b in pairs]
            if len(paired) > 1:
                ratio_rows.append(
                    [
                        f"ingest, {kind} vs {kind}, per-round ratios: median (range)",
                        f"{statistics.median(paired):.2f}× ({min(paired):.2f}-{max(paired):.2f})",
                        "≥ 1.8×",
                    ]
                )
    ours_hnsw = find("ours (LangChain", "HNSW")
    if ours_hnsw and lc_flat:
        ratio_rows.append(
            [
                "search p50, ours HNSW vs langchain-redis default (FLAT)",
                f"{ours_hnsw['s50'] / lc_flat['s50']:.2f}×",
                "≤ 0.4×",
            ]
        )
        ratio_rows.append(
            ["filtered search p50, same pairing", f"{ours_hnsw['f50'] / lc_flat['f50']:.2f}×", "-"]
        )
        ratio_rows.append(
            [
                "recall@10 of ours HNSW (ef_runtime 100)",
                f"{ours_hnsw['recall']:.3f}",
                "≥ 0.95",
            ]
        )
    lc_hnsw = find("langchain-redis", "HNSW")
    if ours_hnsw and lc_hnsw:
        ratio_rows.append(
            ["search p50, HNSW vs HNSW", f"{ours_hnsw['s50'] / lc_hnsw['s50']:.2f}×", "-"]
        )
    li = find("llama-index", "FLAT")
    ours_flat = find("ours (LangChain", "FLAT")
    if li and ours_flat:
        ratio_rows.append(
            [
                "ingest, ours FLAT vs LlamaIndex store FLAT",
                f"{ours_flat['ingest'] / li['ingest']:.2f}×",
                "-",
            ]
        )
    if li and ours_hnsw:
        ratio_rows.append(
            [
                "search p50, ours HNSW vs LlamaIndex store default (FLAT)",
                f"{ours_hnsw['s50'] / li['s50']:.2f}×",
                "-",
            ]
        )
    lines = [
        f"# Vector search ({n:,} docs, 384-d MiniLM embeddings{', full mode' if full else ''})",
        "",
        machine_note(),
        "",
        "Same embedded Redis (8.2 + RediSearch 2.10), same run, same precomputed vectors; "
        "k = 10; 200 timed queries (after 10 warm-up) by vector; filtered = one of 10 "
        "categories (tag). Recall@10 against exact brute force.",
        "",
        table(headers, body),
        "",
        "## Ratios against the issue's targets",
        "",
        table(["comparison", "measured", "target"], ratio_rows),
        "",
        "What the figures mean:",
        "",
        "- **Ingest** is end to end through each library's add call with vectors already "
        "computed: the median over interleaved rounds (FLAT: nine rounds per store; HNSW: "
        "three for ours and langchain-redis, one for raw redisvl). FLAT ingest is "
        "client-bound (building and pipelining commands), so the library matters; HNSW "
        "ingest is server-bound (graph construction, one core), so "
        "every library lands near the same rate.",
        "- **Search** latency includes building the framework's result objects. FLAT scans "
        "every vector (cost grows with the corpus); HNSW visits a small graph neighbourhood. "
        "Our HNSW rows use EF_RUNTIME 100, which keeps recall@10 above 0.95 on this data "
        "(our default, algorithm='auto', is measured on two data sets by "
        "bench_vectors_defaults); "
        "RediSearch's default (10), used by the peers when they pick HNSW, is faster but "
        "misses neighbours (see their HNSW recall).",
        "- **Bytes/doc** is what Redis holds per document: the keys' MEMORY USAGE plus the "
        "index (vector index and inverted/tag/doc tables from FT.INFO); the float32 vector "
        "alone is 1,536 bytes, stored once in the key and once in the index.",
    ]
    spreads = [
        f"{r['name']} {r['kind']} {r['spread'][0]:,.0f}-{r['spread'][1]:,.0f}"
        for r in rows
        if r.get("rounds", 1) > 1
    ]
    if spreads:
        notes.append("Ingest docs/s range over the rounds: " + "; ".join(spreads) + ".")
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"
