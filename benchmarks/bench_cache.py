"""LLM cache benchmark: this pack vs langchain-redis and redisvl, same server, same vectors.

Semantic: N entries (10k; 100k with --full) of 384-d embedding-like vectors
(mixtures of real all-MiniLM-L6-v2 embeddings of fow-cache prompts plus noise, so HNSW
sees realistic structure), precomputed so no model runs inside a timed call. Hit
queries are stored vectors slightly perturbed (cosine distance ≈ 0.02); miss queries
are fresh mixtures. Exact: LangChain-level hit/miss/update with a chat generation
carrying tool calls and usage. Precision of the default threshold on fow-cache's 600
labelled pairs is reported with and without the default guards.
"""

from __future__ import annotations

import itertools
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from benchmarks.common import bench_server, machine_note, median_us, p99_us, table, time_calls
from redis_agent_core.vectors import AUTO_RECHECK

DIMS = 384
THRESHOLD = 0.1
ROUNDS = 10  # timing rounds, interleaved across systems
DATASETS = ("clustered", "random")
SMALL = 2_000  # entries when "update while the cache is small" is timed
TIMED = 1_000  # updates timed at each size (in ROUNDS interleaved rounds)
OURS = "this pack (default: auto, float16, guards)"
OURS_OFF = "this pack, guards off"
OURS_RULES = "this pack, rules only (verifier=Verifier(): no pair scorer)"
VL = "redisvl SemanticCache"
LC = "langchain-redis RedisSemanticCache"
EXACT_ROUNDS = 40  # shorter rounds for the exact cache, whose calls take ~0.1 ms
RESULTS = Path(__file__).resolve().parent / "results" / "cache.md"
FULL_MARK = "<!-- full run (--full) below: written by `python -m benchmarks cache --full` -->"


def _fow_pairs() -> list[dict[str, Any]]:
    import fow_cache

    path = Path(fow_cache.__file__).parent / "data" / "pairs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _vectors(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = base[rng.integers(0, len(base), n)]
    b = base[rng.integers(0, len(base), n)]
    v = a + 0.7 * b + rng.normal(0, 0.025, (n, DIMS)).astype(np.float32)
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def _perturb(v: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = v + rng.normal(0, 0.01, v.shape).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


class _Data(NamedTuple):
    stored: np.ndarray  # the entries' vectors
    hit: np.ndarray  # the vectors of the entries hit_ids perturbed to distance ~0.02
    miss: np.ndarray  # fresh vectors (nothing stored within the threshold, nearly)
    hit_ids: np.ndarray  # the entries the hit queries repeat


def _hit_ids(n: int, n_queries: int) -> np.ndarray:
    """The entries hit queries repeat: spread evenly over all ``n`` in write order. HNSW
    finds its oldest entries far more easily than later ones (100k random vectors, M 16,
    EF_CONSTRUCTION 64, ef_runtime 100: 0.999 of the first 1,000 vs 0.89 of 1,000 taken
    anywhere and 0.84 of the last 1,000), so hits on the first entries alone overstated
    the recall a lookup has."""
    return np.linspace(0, n - 1, n_queries).astype(np.int64)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _dataset(kind: str, base: np.ndarray, n: int, n_queries: int) -> _Data:
    """``clustered``: mixtures of real MiniLM embeddings (embedding-like structure);
    ``random``: independent unit vectors, the hard case for HNSW."""
    if kind == "clustered":
        stored, miss = _vectors(base, n, seed=1), _vectors(base, n_queries, seed=3)
    else:
        stored = _unit(np.random.default_rng(1).standard_normal((n, DIMS)))
        miss = _unit(np.random.default_rng(3).standard_normal((n_queries, DIMS)))
    ids = _hit_ids(n, n_queries)
    return _Data(stored, _perturb(stored[ids], seed=2), miss, ids)


def _mem(client: Any) -> int:
    return int(client.info("memory")["used_memory"])


def _exact_bytes(
    make: Callable[[str], Any], prompts: list[str], answers: dict[int, Any], llm_string: str
) -> float:
    """used_memory growth per entry of an exact cache written alone on a fresh server
    (the shared server's background work, e.g. index GC, would blur a delta there)."""
    import redis

    with bench_server() as url:
        client = redis.Redis.from_url(url)
        cache = make(url)
        cache.update("warm-up", llm_string, answers[0])  # the cache's own structures
        before = _mem(client)
        for i, prompt in enumerate(prompts):
            cache.update(prompt, llm_string, answers[i])
        grown = _mem(client) - before
        client.close()
    return grown / len(prompts)


def _timed(fn: Callable[[Any], Any], items: list[Any], warmup: int = 20) -> list[float]:
    it = itertools.cycle(items)
    return time_calls(lambda: fn(next(it)), repeat=len(items), warmup=warmup)


class _Lookup:
    """Embeddings that return precomputed vectors by prompt text."""

    def __init__(self) -> None:
        self.table: dict[str, list[float]] = {}

    def __call__(self, texts: list[str]) -> list[list[float]]:
        # unknown texts (the peers' dimension probes) get a fixed vector
        return [self.table.get(t) or self.table["test"] for t in texts]


def main(full: bool) -> str:
    import redis
    from langchain_core.embeddings import Embeddings
    from langchain_core.load import dumps
    from langchain_core.messages import AIMessage, HumanMessage
    from langchain_core.outputs import ChatGeneration
    from langchain_redis import RedisCache as LcRedisCache
    from langchain_redis import RedisSemanticCache as LcRedisSemanticCache

    from langchain_redis_agent import RedisCache, RedisSemanticCache
    from redis_agent_core.cache import make_scope
    from redis_agent_core.cache.guards import default_verifier
    from redis_agent_core.config import RedisAgentConfig
    from redis_agent_core.embeddings import CallableEmbedder, default_embedder

    n = int(os.environ.get("BENCH_CACHE_N", 0)) or (100_000 if full else 10_000)
    n_queries = 1000 if full else 500
    started = time.monotonic()
    model = default_embedder()
    pairs = _fow_pairs()
    texts = sorted({p["a"] for p in pairs} | {p["b"] for p in pairs})
    base = model.embed(texts)
    # real questions (fow-cache's), numbered so that each entry is its own; a hit query
    # is its entry's question reworded ("Quick question: ..."), which the guards serve
    # after checking it (an identical text would skip them)
    total = n + 2 * TIMED  # each size times TIMED updates and TIMED lookup-then-updates
    prompts = [f"{texts[i % len(texts)]} [{i}]" for i in range(total)]
    hit_prompts = [f"Quick question: {prompts[i]}" for i in _hit_ids(total, n_queries)]
    miss_prompts = [f"miss {i} {uuid.uuid4().hex[:8]}" for i in range(n_queries)]
    lookup = _Lookup()

    class TableEmbeddings(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return lookup(texts)

        def embed_query(self, text: str) -> list[float]:
            return lookup([text])[0]

    llm_string = "model=fake-chat temperature=0"
    sem_rows: list[list[Any]] = []
    mem_rows: list[list[Any]] = []
    exact_rows: list[list[Any]] = []
    notes: list[str] = []

    upd_rows: list[list[Any]] = []
    flow_rows: list[list[Any]] = []
    emb = CallableEmbedder(lookup, name="table", dims=DIMS)
    emb_lc = TableEmbeddings()
    scope = make_scope({"llm_string": llm_string})
    for kind in DATASETS:
        data = _dataset(kind, base, total, n_queries)
        for p, v in zip(prompts, data.stored, strict=True):
            lookup.table[p] = v.tolist()
        for p, v in zip(hit_prompts, data.hit, strict=True):
            lookup.table[p] = v.tolist()
        for p, v in zip(miss_prompts, data.miss, strict=True):
            lookup.table[p] = v.tolist()
        lookup.table["test"] = data.stored[0].tolist()
        with bench_server() as url:
            cfg = RedisAgentConfig(url=url, namespace="bench")
            rows = _semantic(kind, url, cfg, emb, emb_lc, scope, llm_string, data, prompts,
                             hit_prompts, miss_prompts, n, notes)  # fmt: skip
        sem_rows += rows["sem"]
        upd_rows += rows["upd"]
        flow_rows += rows["flow"]
        mem_rows += rows["mem"]

    with bench_server() as url:
        client = redis.Redis.from_url(url)
        client.flushall()
        cfg = RedisAgentConfig(url=url, namespace="bench")

        if not full:  # independent of the number of entries: measured in the default run
            # -- two models, one prompt --
            two_rows = []
            for label, make in (
                (
                    "this pack, RedisSemanticCache",
                    lambda: RedisSemanticCache(emb, cfg, name="two", verifier=None),
                ),
                (
                    "langchain-redis RedisSemanticCache",
                    lambda: LcRedisSemanticCache(
                        emb_lc,
                        redis_client=redis.Redis.from_url(url),
                        name="two",
                        distance_threshold=THRESHOLD,
                    ),
                ),
            ):
                c = make()
                ok = 0
                for i in range(20):
                    p = prompts[i]
                    c.update(p, "model-A", [ChatGeneration(message=AIMessage(content=f"A{i}"))])
                    c.update(p, "model-B", [ChatGeneration(message=AIMessage(content=f"B{i}"))])
                    a = c.lookup(p, "model-A")
                    b = c.lookup(p, "model-B")
                    ok += bool(a and b and a[0].text == f"A{i}" and b[0].text == f"B{i}")
                two_rows.append([label, f"{ok}/20"])

            # -- exact cache, LangChain level --
            def answer(i: int) -> list[Any]:  # a distinct answer per prompt
                return [
                    ChatGeneration(
                        message=AIMessage(
                            content=f"Paris is the capital of France ({i}).",
                            tool_calls=[{"name": "lookup", "args": {"q": "France"}, "id": "c1"}],
                            usage_metadata={
                                "input_tokens": 20,
                                "output_tokens": 9,
                                "total_tokens": 29,
                            },
                            response_metadata={"model_name": "fake", "finish_reason": "stop"},
                        )
                    )
                ]

            answers = {i: answer(i) for i in range(1000)}
            chat_prompts = [dumps([HumanMessage(f"question {i}?")]) for i in range(2000)]
            exact: dict[str, dict[str, float]] = {}
            exact_makers: dict[str, Callable[[str], Any]] = {
                "this pack RedisCache": lambda u: RedisCache(
                    RedisAgentConfig(url=u, namespace="bench"), name="exact"
                ),
                "langchain-redis RedisCache": lambda u: LcRedisCache(
                    redis_client=redis.Redis.from_url(u)
                ),
            }
            exact_caches = {label: make(url) for label, make in exact_makers.items()}
            samples: dict[str, dict[str, list[float]]] = {
                label: {"hit": [], "miss": [], "update": []} for label in exact_caches
            }
            step = 1000 // ROUNDS
            for r in range(ROUNDS):
                for label, cache in exact_caches.items():
                    s_ = samples[label]
                    s_["update"] += _timed(
                        lambda i, c=cache: c.update(chat_prompts[i], llm_string, answers[i]),
                        list(range(r * step, (r + 1) * step)),
                        warmup=0,
                    )
            # hits: short rounds, order alternating, wall and client CPU time per call.
            # First hit of each entry, and its third ("repeat": this pack's adapter then
            # copies the generations it revived on the second instead of parsing)
            cpu: dict[str, list[float]] = {label: [] for label in exact_caches}
            step = 1000 // EXACT_ROUNDS
            order = list(exact_caches.items())
            for label in exact_caches:
                samples[label]["repeat"] = []
            for r in range(EXACT_ROUNDS):
                hit_ids = chat_prompts[r * step : (r + 1) * step]
                miss_ids = chat_prompts[1000 + r * step : 1000 + (r + 1) * step]
                for label, cache in order if r % 2 == 0 else order[::-1]:
                    s_ = samples[label]
                    for p in miss_ids[:3]:  # warm up
                        cache.lookup(p, llm_string)
                    for p in hit_ids:
                        c0 = time.thread_time()
                        w0 = time.perf_counter()
                        cache.lookup(p, llm_string)
                        s_["hit"].append(time.perf_counter() - w0)
                        cpu[label].append(time.thread_time() - c0)
                    for p in hit_ids:  # second hit: this pack's memo admits the answer
                        cache.lookup(p, llm_string)
                    s_["repeat"] += _timed(
                        lambda p, c=cache: c.lookup(p, llm_string), hit_ids, warmup=0
                    )
                    s_["miss"] += _timed(
                        lambda p, c=cache: c.lookup(p, llm_string), miss_ids, warmup=0
                    )
            for label, cache in exact_caches.items():
                assert cache.lookup(chat_prompts[7], llm_string) == answers[7] or label.startswith(
                    "lang"
                )
                s_ = samples[label]
                exact[label] = {
                    "hit": median_us(s_["hit"]),
                    "hit99": p99_us(s_["hit"]),
                    "miss": median_us(s_["miss"]),
                    "update": median_us(s_["update"]),
                    "repeat": median_us(s_["repeat"]),
                    "cpu": sum(cpu[label]) / len(cpu[label]) * 1e6,
                    "bytes": _exact_bytes(
                        exact_makers[label], chat_prompts[:1000], answers, llm_string
                    ),
                }
            lc = exact["langchain-redis RedisCache"]
            for label, r in exact.items():
                exact_rows.append(
                    [
                        label,
                        r["hit"],
                        r["hit99"],
                        f"{r['hit'] / lc['hit']:.2f}×",
                        r["cpu"],
                        f"{r['cpu'] / lc['cpu']:.2f}×",
                        r["repeat"],
                        f"{r['repeat'] / lc['repeat']:.2f}×",
                        r["miss"],
                        r["update"],
                        f"{r['bytes']:,.0f}",
                        f"{r['bytes'] / lc['bytes']:.2f}×",
                    ]
                )
        client.close()

    prec_rows: list[list[Any]] = []
    if not full:
        # -- precision of the default threshold on fow-cache --
        va = model.embed([p["a"] for p in pairs])
        vb = model.embed([p["b"] for p in pairs])
        dist = 1 - np.sum(va * vb, axis=1)
        labels = np.array([bool(p["same_answer"]) for p in pairs])
        verifier = default_verifier()
        for t in (0.05, 0.1, 0.15, 0.2):
            served = dist <= t
            guarded = np.array(
                [
                    s and verifier.verify(p["a"], p["b"]) is None
                    for s, p in zip(served, pairs, strict=True)
                ]
            )
            for name, mask in (("distance only", served), ("distance + default guards", guarded)):
                tp = int(np.sum(mask & labels))
                prec = tp / max(1, int(mask.sum()))
                rec = tp / max(1, int(labels.sum()))
                prec_rows.append([f"{t:.2f}", name, int(mask.sum()), f"{prec:.3f}", f"{rec:.3f}"])
    notes.append(f"Total run time {time.monotonic() - started:.0f} s.")

    update_headers = ["data", "system", f"p50 at {SMALL:,}", "vs langchain-redis", "vs redisvl",
                      "server µs", f"p50 at {n:,}", "vs langchain-redis", "vs redisvl",
                      "server µs"]  # fmt: skip
    sections = [
        f"# LLM cache benchmark ({n:,} entries)",
        machine_note() + " Same embedded Redis 8.2 + RediSearch 2.10 for every system, "
        "same precomputed 384-d vectors, threshold 0.1 (cosine distance) everywhere. "
        f"Timings: {ROUNDS} rounds interleaved across systems.",
        "## Semantic update (µs per call: every miss writes one)",
        f"Timed in {ROUNDS} interleaved rounds ({TIMED:,} updates per system) when each cache "
        f"holds {SMALL:,} entries, and again when it holds {n:,}; every system at its "
        'defaults (ours: `algorithm="auto"`, float16, the default guards, whose features '
        "of the prompt are stored on each write). *Update alone*: the write of a prompt "
        "no lookup has seen, so ours parses it for the guards in the write; *lookup then "
        "update*: what a miss costs as users see it (the lookup misses, then the write), "
        "where ours parses the prompt while the lookup waits for the server. *Server µs*: "
        "the server's own time per call (INFO commandstats): RediSearch indexes a write "
        "inside the command, so an HNSW insert shows there, whatever the client.",
        "**Update alone**",
        table(update_headers, upd_rows),
        "**Lookup then update** (µs per pair)",
        table(update_headers, flow_rows),
        f"## Semantic lookup at {n:,} entries (ms), with recall and false hits",
        f"Hit queries are the vectors of {n_queries:,} entries spread evenly over the cache "
        "(in write order: HNSW finds its oldest entries more easily) perturbed to distance "
        '≈ 0.02, asked in other words ("Quick question: ..."): *correct* is the share that '
        "returned their own entry (the index's recall in practice); *served on miss* is "
        "the share of fresh vectors that got any answer. Guards on, off and the rules alone "
        "query the same index. *Server ms per hit*: the server's own time in the commands "
        "of the timed hits (INFO commandstats), the floor no client can go under.",
        table(
            [
                "data",
                "system",
                "hit p50",
                "hit p99",
                "miss p50",
                "miss p99",
                "hit vs langchain-redis",
                "server ms per hit",
                "correct hits",
                "served on miss",
            ],
            sem_rows,
        ),
        "## Memory per entry (used_memory growth / entries, index included)",
        table(["data", "system", "bytes / entry", "vs redisvl"], mem_rows),
    ]
    if not full:
        sections += [
            "## Two models, one prompt (20 prompts)",
            "Each prompt is cached for model A then model B; both must get their own answer.",
            table(["system", "both correct"], two_rows),
            "## Exact cache, LangChain level (µs): chat generation with tool calls and usage",
            f"1,000 entries, each with its own answer. Hits: {EXACT_ROUNDS} short rounds "
            "alternating the systems (and their order); *hit* is the first hit of each "
            "entry, *repeat hit* its third (this pack's adapter then copies generations "
            "it revived on the second instead of parsing them again; Redis is still read "
            "each time). *Client CPU* is this process's CPU time per first hit (its share "
            "of the round trip included, the server's excluded): unlike wall time, it "
            "hardly moves when other processes load this shared machine. "
            "*Bytes / entry*: used_memory growth per entry, each cache writing the same "
            "1,000 entries alone on a fresh server, both at their defaults (no TTL).",
            table(
                [
                    "system",
                    "hit p50",
                    "hit p99",
                    "hit vs langchain-redis",
                    "client CPU / hit",
                    "CPU vs langchain-redis",
                    "repeat hit p50",
                    "repeat vs langchain-redis",
                    "miss p50",
                    "update p50",
                    "bytes / entry",
                    "bytes vs langchain-redis",
                ],
                exact_rows,
            ),
            "## Precision on fow-cache (600 labelled pairs, all-MiniLM-L6-v2)",
            "Served = the pair's distance is within the threshold (and the guards pass). "
            "Precision = share of served pairs whose answers really are interchangeable.",
            table(["threshold", "check", "served", "precision", "recall"], prec_rows),
        ]
    sections.append("\n".join(notes))
    return _merge("\n\n".join(sections) + "\n", full)


def _settle(ours: Any, final: bool = False) -> str:
    """Wait for a trial or re-tuning the writes started; run the trial now if due, and
    (``final``) the re-tuning at this size (so the timed calls see the steady state at
    this size, not a trial's HNSW build beside them, nor an ef_runtime tuned at a
    fraction of it); the live index of ours, in words."""
    view = ours.vector_index()
    ours.wait_tuning()
    view.pick_algorithm()
    started = time.perf_counter()
    state = ours.wait_tuning(grown=final)
    took = time.perf_counter() - started
    time.sleep(AUTO_RECHECK + 0.1)  # the cache re-reads the live index (as every process)
    ours.lookup("settle", "settle", vector=np.ones(DIMS, dtype=np.float32))
    if ours.algorithm == "hnsw":
        return (f"HNSW ef_runtime {ours._tuned or ours.ef_runtime} (tuned at "
                f"{int(float(state.get('size', 0))):,} entries: near-repeat recall "
                f"{float(state.get('recall', 0)):.3f} on {state.get('sample', '?')} near "
                f"repeats; the wait for it {took:.1f} s)")  # fmt: skip
    return "FLAT"


def _semantic(
    kind: str, url: str, cfg: Any, emb: Any, emb_lc: Any, scope: str, llm_string: str,
    data: _Data, prompts: list[str], hit_prompts: list[str], miss_prompts: list[str], n: int,
    notes: list[str],
) -> dict[str, list[list[Any]]]:  # fmt: skip
    """Update (at SMALL and at n entries), lookup and memory of the semantic caches on
    one data set: ours at its defaults vs redisvl's and langchain-redis's at theirs."""
    import redis
    from langchain_redis import RedisSemanticCache as LcRedisSemanticCache
    from redisvl.extensions.cache.llm import SemanticCache as VlSemanticCache
    from redisvl.utils.vectorize import CustomTextVectorizer

    from redis_agent_core.cache import SemanticCache
    from redis_agent_core.cache.guards import Verifier

    client = redis.Redis.from_url(url)
    ours = SemanticCache(cfg, embedder=emb, distance_threshold=THRESHOLD)
    ours_off = SemanticCache(cfg, embedder=emb, distance_threshold=THRESHOLD, verifier=None)
    ours_rules = SemanticCache(cfg, embedder=emb, distance_threshold=THRESHOLD,
                               verifier=Verifier())  # fmt: skip
    vl = VlSemanticCache(
        name="vlcache",
        distance_threshold=THRESHOLD,
        vectorizer=CustomTextVectorizer(embed=lambda t: emb.embed([t])[0].tolist(),
                                        embed_many=lambda ts: emb.embed(ts).tolist()),
        redis_client=redis.Redis.from_url(url),
    )  # fmt: skip
    lc = LcRedisSemanticCache(
        emb_lc, redis_client=redis.Redis.from_url(url), distance_threshold=THRESHOLD
    )
    stored = data.stored
    # the vector is the caller's at every system (redisvl's and ours take it; langchain-
    # redis embeds through the table, a dict lookup)
    put: dict[str, Callable[[int], Any]] = {
        OURS: lambda i: ours.update(prompts[i], scope, f"answer {i}", vector=stored[i]),
        VL: lambda i: vl.store(prompts[i], f"answer {i}", vector=stored[i].tolist()),
        LC: lambda i: lc.update(prompts[i], llm_string, _gen(i)),
    }
    get: dict[str, Callable[[np.ndarray, str], Any]] = {
        OURS: lambda v, p: ours.lookup(p, scope, vector=v),
        OURS_RULES: lambda v, p: ours_rules.lookup(p, scope, vector=v),
        OURS_OFF: lambda v, p: ours_off.lookup(p, scope, vector=v),
        VL: lambda v, p: vl.check(vector=v.tolist(), num_results=1),
        LC: lambda v, p: lc.lookup(p, llm_string),
    }

    # what users see on a miss: the lookup (it misses: the prompt is new) then the write
    flow: dict[str, Callable[[int], Any]] = {
        label: (lambda i, g=get[label], f=put[label]: (g(stored[i], prompts[i]), f(i)))
        for label in put
    }

    def timed(calls: dict[str, Callable[[int], Any]], first: int) -> dict[str, list[float]]:
        """Client-side µs per call by system; the server's µs per call under ``(label,)``."""
        samples: dict[str, list[float]] = {label: [] for label in calls}
        step = TIMED // ROUNDS
        order = list(calls.items())
        for r in range(ROUNDS):
            ids = list(range(first + r * step, first + (r + 1) * step))
            for label, f in order if r % 2 == 0 else order[::-1]:
                before = _server_usec(client)
                samples[label] += _timed(f, ids, warmup=0)
                samples.setdefault(f"({label},)", []).append(
                    (_server_usec(client) - before) / len(ids)
                )
        return samples

    mem: dict[str, float] = {}
    for f in put.values():
        for i in range(SMALL):
            f(i)
    live_small = _settle(ours)
    small, small_flow = timed(put, SMALL), timed(flow, SMALL + TIMED)
    filled = SMALL + 2 * TIMED
    for label, f in put.items():  # one system at a time: used_memory growth is its own
        before = _mem(client)
        for i in range(filled, n):
            f(i)
        if label == OURS:
            _settle(ours)
        time.sleep(0.5)  # let the index settle
        mem[label] = (_mem(client) - before) / (n - filled)
    live_n = _settle(ours, final=True)
    ours_off.wait_tuning()  # the same index: its next lookups read the tuning too
    ours_rules.wait_tuning()
    large, large_flow = timed(put, n), timed(flow, n + TIMED)
    state = {k.decode(): v.decode() for k, v in client.hgetall(
        cfg.keys.cache_index_keys(ours.name).state).items()}  # fmt: skip
    notes.append(f"{kind}: this pack's index at {SMALL:,} entries: {live_small}; at {n:,}: "
                 f"{live_n} (last trial at {state.get('auto_size', '-')} entries: "
                 f"{state.get('auto_reason', 'none')}).")  # fmt: skip

    hit_s: dict[str, list[float]] = {label: [] for label in get}
    miss_s: dict[str, list[float]] = {label: [] for label in get}
    server: dict[str, list[float]] = {label: [] for label in get}  # server µs per hit
    n_queries = len(data.hit)
    chunk = n_queries // ROUNDS
    order_g = list(get.items())
    for r in range(ROUNDS):
        ids = list(range(r * chunk, (r + 1) * chunk))
        for label, g in order_g if r % 2 == 0 else order_g[::-1]:
            before = _server_usec(client)
            hit_s[label] += _timed(lambda i, g=g: g(data.hit[i], hit_prompts[i]), ids, warmup=5)
            server[label].append((_server_usec(client) - before) / (len(ids) + 5))
            miss_s[label] += _timed(lambda i, g=g: g(data.miss[i], miss_prompts[i]), ids, warmup=5)
    out: dict[str, list[list[Any]]] = {"sem": [], "upd": [], "flow": [], "mem": []}
    for label, g in get.items():
        correct = sum(_is_source(r, int(data.hit_ids[i])) for i in range(n_queries)
                      if (r := g(data.hit[i], hit_prompts[i])))  # fmt: skip
        served = sum(bool(g(data.miss[i], miss_prompts[i])) for i in range(n_queries))
        hits, misses = hit_s[label], miss_s[label]
        out["sem"].append([kind, label, median_us(hits) / 1000, p99_us(hits) / 1000,
                           median_us(misses) / 1000, p99_us(misses) / 1000,
                           f"{median_us(hits) / median_us(hit_s[LC]):.3f}×",
                           f"{float(np.mean(server[label])) / 1000:.2f}",
                           f"{correct / n_queries:.3f}", f"{served / n_queries:.3f}"])  # fmt: skip
    for key, at_small, at_n in (("upd", small, large), ("flow", small_flow, large_flow)):
        for label in put:
            s_, l_ = median_us(at_small[label]), median_us(at_n[label])
            srv = f"({label},)"
            out[key].append([kind, label, s_, f"{s_ / median_us(at_small[LC]):.2f}×",
                             f"{s_ / median_us(at_small[VL]):.2f}×",
                             f"{np.mean(at_small[srv]):.0f}", l_,
                             f"{l_ / median_us(at_n[LC]):.2f}×",
                             f"{l_ / median_us(at_n[VL]):.2f}×",
                             f"{np.mean(at_n[srv]):.0f}"])  # fmt: skip
    for label in put:
        out["mem"].append([kind, label, f"{mem[label]:,.0f}", f"{mem[label] / mem[VL]:.2f}×"])
    client.close()
    return out


def _server_usec(client: Any) -> int:
    """The server's microseconds in commands so far (INFO commandstats; INFO's own left
    out): what a block of calls added is the server's share of their time, the floor no
    client can go under (RediSearch here indexes a write inside the command)."""
    stats = client.info("commandstats")
    return sum(int(v.get("usec", 0)) for k, v in stats.items() if k != "cmdstat_info")


def _merge(report: str, full: bool) -> str:
    """The whole results file: the default (10k) report, then the last --full report.

    The runner writes what ``main`` returns to ``results/cache.md``; each mode keeps
    the other mode's section of the existing file, so both tables stay committed.
    """
    old = RESULTS.read_text() if RESULTS.exists() else ""
    default_part, _, full_part = old.partition(FULL_MARK)
    if full:
        body = report.replace("\n## ", "\n### ").replace(
            "# LLM cache benchmark (", "## Full run: LLM cache benchmark (", 1
        )
        return default_part.rstrip() + "\n\n" + FULL_MARK + "\n\n" + body
    if not full_part.strip():
        return report
    return report.rstrip() + "\n\n" + FULL_MARK + "\n\n" + full_part.strip() + "\n"


def _gen(i: int) -> list[Any]:
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration

    return [ChatGeneration(message=AIMessage(content=f"answer {i}"))]


def _is_source(result: Any, i: int) -> bool:
    """Whether a lookup result is the answer stored for entry ``i``."""
    want = f"answer {i}"
    if hasattr(result, "payload"):  # core CacheHit
        return bool(result.payload == want)
    if isinstance(result, list) and result and isinstance(result[0], dict):  # redisvl
        return bool(result[0].get("response") == want)
    return bool(result[0].text == want)  # LangChain generations
