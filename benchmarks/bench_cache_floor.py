"""Where the semantic cache's floors are (issue 18): bytes per entry by what an entry
holds, and on random 384-d vectors (the hard case) what an HNSW insert costs against
FLAT and what each ``EF_RUNTIME`` (or a range query) gives in latency and correct hits.

Entries are written raw (HSET + the member record, as the cache's script does) with the
cache's key and field layout (namespace "rap", cache "semantic"), so each row differs
from the one above it by one thing; the cache itself is measured in ``bench_cache``. Hit
queries are stored vectors spread over the index perturbed to cosine distance ~0.02, as
there; *correct* = the entry is among the lookup's 4 candidates (the cache's default).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.bench_cache import DIMS, _dataset, _fow_pairs, _mem
from benchmarks.common import bench_server, machine_note, table
from redis_agent_core.cache.entry import PACKED, compact_digest, entry_digest, pack
from redis_agent_core.keys import KeySpace

LAYOUT_N = 10_000  # entries per layout row
SCOPE = "0" * 32  # a scope digest's length
CACHE = "semantic"  # the cache's default name
HNSW = ("M", 16, "EF_CONSTRUCTION", 64)  # the cache's HNSW parameters
EFS = (20, 40, 60, 100, 200)
EPSILONS = (0.01, 0.1)


def _create(
    client: Any, name: str, algorithm: str, dtype: str = "FLOAT16", prefix: str = ""
) -> None:
    extra = HNSW if algorithm == "HNSW" else ()
    client.execute_command(
        "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, prefix or f"{name}:", "SCHEMA",
        "scope", "TAG", "SEPARATOR", "|", "CASESENSITIVE",
        "vec", "VECTOR", algorithm, 6 + len(extra), "TYPE", dtype, "DIM", DIMS,
        "DISTANCE_METRIC", "COSINE", *extra,
    )  # fmt: skip


def _short_keys(name: str) -> Callable[[int], tuple[str, str, str]]:
    """Entry key, members key and member of entry ``i`` under a short name (``name:e:``)."""

    def keys(i: int) -> tuple[str, str, str]:
        digest = hashlib.md5(str(i).encode()).hexdigest()
        tag = f"{{{name}.{digest[0]}}}"
        return f"{name}:e:{tag}:{digest}", f"{name}:m:{tag}", digest

    return keys


def _cache_keys(
    digest: Callable[[str, str], str], parts: bool
) -> Callable[[int], tuple[str, str, str]]:
    """The same as the cache lays them out (namespace "rap", cache "semantic"), the id
    made by ``digest`` (the 21-character one, or the 32 hex digits before it), member
    records in the bucket's parts or (``parts=False``, before 2026-12-04) its one set."""
    ks = KeySpace("rap")

    def keys(i: int) -> tuple[str, str, str]:
        d = digest(SCOPE, str(i))
        members = (
            ks.cache_member_parts(CACHE, d[0], d[1]) if parts else [ks.cache_members(CACHE, d[0])]
        )
        return ks.cache_entry(CACHE, d[0], d), members[0], d

    return keys


def _write(
    client: Any,
    keys: Callable[[int], tuple[str, str, str]],
    n: int,
    fields: Callable[[int], dict[str, Any]],
) -> float:
    """Write ``n`` entries laid out as the cache's; seconds taken (pipelined)."""
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        key, members, digest = keys(i)
        pipe.zadd(members, {digest: float("inf")})
        pipe.hset(key, mapping=fields(i))
        if i % 500 == 499:
            pipe.execute()
    pipe.execute()
    return time.perf_counter() - started


def _layouts(vectors: np.ndarray) -> list[list[Any]]:
    import redis
    from redisvl.extensions.cache.llm import SemanticCache as VlSemanticCache

    from redis_agent_core.cache.guards import Verifier

    texts = sorted({p["a"] for p in _fow_pairs()})
    prompts = [f"{texts[i % len(texts)]} [{i}]" for i in range(LAYOUT_N)]
    features = [Verifier.features_of(p) for p in prompts]
    form2 = [_form2(p) for p in prompts]
    prompt = [p.encode() for p in prompts]
    blobs = [v.astype(np.float16).tobytes() for v in vectors[:LAYOUT_N]]

    def core(i: int) -> dict[str, Any]:
        return {"scope": SCOPE, "vec": blobs[i]}

    def packed(i: int) -> dict[str, Any]:  # prompt and payload in one field
        return {**core(i), PACKED: pack(prompt[i], b"answer %d" % i, b"", 0, b"")}

    def packed_guarded(i: int) -> dict[str, Any]:  # and the prompt's features
        return {**core(i), PACKED: pack(prompt[i], b"answer %d" % i, b"", 0, features[i])}

    def described(i: int) -> dict[str, Any]:
        return {**core(i), "prompt": prompts[i], "payload": f"answer {i}"}

    def guarded(i: int) -> dict[str, Any]:  # the prompt follows its features in one field
        return {**core(i), "payload": f"answer {i}", "gf": b"%s\n%s" % (features[i], prompt[i])}

    def guarded3(i: int) -> dict[str, Any]:
        return {**described(i), "gf": features[i]}

    def guarded2(i: int) -> dict[str, Any]:
        return {**described(i), "gf": form2[i]}

    def before(i: int) -> dict[str, Any]:
        return {**guarded2(i), "created": f"{time.time():.3f}"}

    grown: dict[tuple[str, str], float] = {}
    new, one_set = _cache_keys(compact_digest, parts=True), _cache_keys(compact_digest, parts=False)
    old = _cache_keys(entry_digest, parts=False)
    rows = (
        ("vector + scope tag + member record (the floor)", new, core),
        ("+ prompt and payload, packed in one field (an unguarded entry)", new, packed),
        ("+ the guards' features, in that field (this pack's default entry)", new, packed_guarded),
        ("the default entry, one member set a bucket (the entry of f649c80)", one_set,
         packed_guarded),
        ("vector + scope tag + member record, 32-hex id (the floor before 2026-12-04)", old, core),
        ("+ prompt and payload in fields of their own (the unguarded entry before 2026-12-04)",
         old, described),
        ("+ the guards' features, the prompt after them (the entry of 78c97d5)", old, guarded),
        ("+ the guards' features in a field of their own (the entry of 3be5e58)", old, guarded3),
        ("+ the guards' features in form 2 (the entry before 3be5e58)", old, guarded2),
        ("+ creation time, features in form 2 (the entry before 8818a4f)", old, before),
    )  # fmt: skip
    for algorithm in ("FLAT", "HNSW"):
        for label, keys, fields in rows:
            # a fresh server each: memory an index frees after FT.DROPINDEX would blur a delta
            with bench_server() as url:
                client = redis.Redis.from_url(url)
                _create(client, "e", algorithm, prefix=KeySpace("rap").cache_prefix(CACHE))
                start = _mem(client)
                _write(client, keys, LAYOUT_N, fields)
                time.sleep(0.5)
                grown[(algorithm, label)] = (_mem(client) - start) / LAYOUT_N
                client.close()
    with bench_server() as url:
        client = redis.Redis.from_url(url)
        vl = VlSemanticCache(name="vl", distance_threshold=0.1, redis_client=client,
                             vectorizer=_no_model())  # fmt: skip
        start = _mem(client)
        for i in range(LAYOUT_N):
            vl.store(prompts[i], f"answer {i}", vector=vectors[i].tolist())
        time.sleep(0.5)
        peer = (_mem(client) - start) / LAYOUT_N
        client.close()
    out = [[a, label, f"{b:,.0f}", f"{b / peer:.2f}×"] for (a, label), b in grown.items()]
    out.append(["FLAT (its default)", "redisvl SemanticCache, float32", f"{peer:,.0f}", "1.00×"])
    return out


def _form2(prompt: str) -> bytes:
    """The guards' features of ``prompt`` as entries stored them before form 3: every
    part, empty or not, and the word list again."""
    import orjson

    from redis_agent_core.cache.guards import features

    f = features(prompt)
    return orjson.dumps([
        2, f.words, sorted(f.vocab - f.stems - frozenset(f.words)), sorted(f.qualifiers),
        f.directional, f.negations, sorted(f.particles), f.quantities, sorted(f.dates),
        f.entities, sorted(f.quotes), f.prefixed,
        {name: sorted(groups) for name, groups in f.scopes.items()}, sorted(f.persons),
        [sorted(f.flow[0]), sorted(f.flow[1])], sorted(f.constraints),
    ])  # fmt: skip


def _no_model() -> Any:
    """The vectorizer redisvl asks for; every vector is given to it."""
    from redisvl.utils.vectorize import CustomTextVectorizer

    return CustomTextVectorizer(embed=lambda t: [0.0] * DIMS)


def _random_index(url: str, data: Any, n: int) -> tuple[list[list[Any]], list[list[Any]]]:
    import redis

    client = redis.Redis.from_url(url, protocol=2)
    inserts = []
    blobs = [v.astype(np.float16).tobytes() for v in data.stored]
    for algorithm in ("FLAT", "HNSW"):
        name = algorithm.lower()
        _create(client, name, algorithm)
        cpu = _server_cpu(client)
        wall = _write(client, _short_keys(name), n, lambda i: {"scope": SCOPE, "vec": blobs[i]})
        cpu = _server_cpu(client) - cpu
        inserts.append([algorithm, f"{n:,}", f"{wall / n * 1e6:,.0f}", f"{cpu / n * 1e6:,.0f}"])
        if algorithm == "FLAT":
            client.execute_command("FT.DROPINDEX", name, "DD")
    hits = [v.astype(np.float16).tobytes() for v in data.hit]
    pre = f"@scope:{{{SCOPE}}}"
    queries = [(f"KNN 4, EF_RUNTIME {ef}", f"({pre})=>[KNN 4 @vec $v EF_RUNTIME {ef} "
                "HYBRID_POLICY BATCHES AS _d]") for ef in EFS]  # fmt: skip
    queries += [(f"VECTOR_RANGE 0.1, EPSILON {e}", f"{pre} @vec:[VECTOR_RANGE 0.1 $v]=>"
                 f"{{$EPSILON: {e}; $YIELD_DISTANCE_AS: _d}}") for e in EPSILONS]  # fmt: skip
    samples: dict[str, list[float]] = {label: [] for label, _ in queries}
    correct = dict.fromkeys(samples, 0)
    for i, blob in enumerate(hits):  # interleaved: each query asks every form in turn
        for label, query in queries:
            started = time.perf_counter()
            reply = client.execute_command(
                "FT.SEARCH", "hnsw", query, "PARAMS", 2, "v", blob, "RETURN", 1, "_d",
                "SORTBY", "_d", "LIMIT", 0, 4, "DIALECT", 2,
            )  # fmt: skip
            samples[label].append(time.perf_counter() - started)
            keys = reply[1::2]
            digest = hashlib.md5(str(data.hit_ids[i]).encode()).hexdigest()
            correct[label] += f"hnsw:e:{{hnsw.{digest[0]}}}:{digest}".encode() in keys
    lookups = [[label, f"{np.median(s) * 1e3:.2f}", f"{np.percentile(s, 99) * 1e3:.2f}",
                f"{correct[label] / len(hits):.3f}"] for label, s in samples.items()]  # fmt: skip
    client.close()
    return inserts, lookups


def _server_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def main(full: bool) -> str:
    n = int(os.environ.get("BENCH_CACHE_N", 0)) or (100_000 if full else 30_000)
    started = time.monotonic()
    data = _dataset("random", np.zeros((1, DIMS), np.float32), n, 1000)
    layouts = _layouts(data.stored)
    with bench_server() as url:
        inserts, lookups = _random_index(url, data, n)
    return (
        "\n\n".join(
            [
                f"# Semantic cache floors ({n:,} random vectors)",
                machine_note() + " Embedded Redis 8.2 + RediSearch 2.10; 384-d float16 vectors, "
                "cosine; HNSW as the cache builds it (M 16, EF_CONSTRUCTION 64).",
                f"## Bytes per entry by what it holds ({LAYOUT_N:,} entries, used_memory growth)",
                "Keys as the cache lays them out (namespace rap, cache semantic). The first "
                "three rows are this pack's entry (a 21-character id; its member record in one "
                "of 64 parts of its bucket's set; all that is not indexed packed in one field), "
                "the others the entries before it (one member set a bucket; then also a "
                "32-hex id and a field each). Each row adds one thing to the row above it "
                "(each guarded row: to the unguarded entry of its id); the ratio is against "
                "redisvl's SemanticCache at its defaults, written in the same run. A hash "
                "field costs ≈ 70 B beside its value: the vector is longer than a listpack "
                "value, so the hash is a hashtable.",
                table(["index", "entry", "bytes / entry", "vs redisvl"], layouts),
                f"## Inserts at {n:,} random vectors (µs per entry, pipelined)",
                "Wall time and the server's CPU time per insert (the server indexes on one "
                "thread; wall time includes the client and this shared machine's load).",
                table(["index", "entries", "wall / insert", "server CPU / insert"], inserts),
                f"## A lookup's search at {n:,} random vectors: latency and correct hits",
                "The search alone (FT.SEARCH on a plain client), the cache's query shape (scope "
                "filter, 4 candidates); 1,000 hit queries repeating entries spread evenly over the "
                "index (in write order), each form asked in turn.",
                table(["query", "p50 ms", "p99 ms", "correct"], lookups),
                f"Total run time {time.monotonic() - started:.0f} s.",
            ]
        )
        + "\n"
    )
