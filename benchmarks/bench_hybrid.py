"""Hybrid (vector + full text) search on Redis < 8.4: ours against redisvl's
AggregateHybridQuery, at their defaults, on two data sets, with exactness next to speed.

The embedded server (RediSearch 2.10) has no ``FT.HYBRID``, so every library runs hybrid
search another way: redisvl's ``AggregateHybridQuery`` (one ``FT.AGGREGATE``: the k
nearest by vector, each given its BM25 text score; alpha 0.7, BM25STD) and ours
(:meth:`VectorIndex.hybrid`: the k nearest and a window of the best by text score,
scored alike, the window widening until the answer is proven exact; 2 round trips).
langchain-redis 0.2.6 (installed) has no hybrid search; its 0.3 line's aggregate method
is redisvl's AggregateHybridQuery.

Both score ``0.7 * (2 - cosine distance) / 2 + 0.3 * text_score``, the text score being
RediSearch's BM25STD score of redisvl's optional text clause ``(~@text:(w1 | w2 ...))``.
The **exact reference** is that formula over the whole corpus: each document's text
score from one unlimited ``FT.SEARCH`` of that clause alone on the same index (no
filter: a filter selects, it does not score), its cosine similarity in numpy, the top k
taken in numpy (among the documents passing the filter, when filtered). "agree@10" is
the share of the reference's top 10 a library returned; "scores off" is the share of
returned hits whose score differs from the reference's (above 1e-4): the peer's known
defects (its candidates are the k nearest only; a filter's TAG clause adds its own BM25,
RediSearch#6707) show there.

Data: documents are the generated sentences of ``bench_vectors`` (a subject, verb,
object, detail and a number ``#i``), each tagged with one of 10 categories; queries are
other generated sentences, searched with their own text and vector; filtered = a
``$or`` of two categories. **clustered**: real all-MiniLM-L6-v2 embeddings mixed as in
``bench_vectors``; **random**: random unit vectors (384-d). Both stores FLAT (exact
KNN), so what differs is the hybrid method. Same server, both indexes loaded at once;
queries interleaved one by one (which goes first alternates).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import redis

from benchmarks.bench_vectors import BASE, embedded, expand, sentences
from benchmarks.common import bench_server, machine_note, median_us, p99_us, table
from redis_agent_core.search.replies import search_rows
from redis_agent_core.search.replies import text as text_of
from redis_agent_core.vectors.query import text_command

warnings.filterwarnings("ignore")

K = 10
ALPHA = 0.7
CATEGORIES = 10
WINDOW = 100  # hybrid25's fixed window, for the "past the window" column


def _clause(query: Any) -> str:
    """The text clause of a hybrid query's FT.AGGREGATE (``(~@text:(...)) =>[KNN ...]``)."""
    return str(query.build_args()[0]).rsplit("=>", 1)[0].strip()


def text_scores(client: redis.Redis, index: str, clause: str, n: int) -> dict[str, float]:
    """Every document's text score (key -> score) by the clause alone."""
    reply = client.execute_command(
        "FT.SEARCH", index, clause, "WITHSCORES", "SCORER", "BM25STD", "NOCONTENT",
        "LIMIT", 0, n, "DIALECT", 2,
    )  # fmt: skip
    return {text_of(key): float(score or 0) for key, score, _ in search_rows(reply)[1]}


def reference(
    sims: np.ndarray, texts: np.ndarray, mask: np.ndarray | None
) -> tuple[list[int], np.ndarray]:
    """The exact top k by the formula, and every document's score."""
    scores = ALPHA * (1 + sims) / 2 + (1 - ALPHA) * texts
    ranked = np.where(mask, scores, -np.inf) if mask is not None else scores
    return np.argsort(-ranked, kind="stable")[:K].tolist(), scores


def agreement(
    found: list[tuple[int, float]], top: list[int], scores: np.ndarray, mask: Any
) -> float:
    """Share of the reference's top k returned, ties counted: a returned document passing
    the filter that scores as high as the reference's k-th is as good as it."""
    if not top:
        return 1.0
    kth = scores[top[-1]] - 1e-9
    ok = {d for d, _ in found if scores[d] >= kth and (mask is None or mask[d])}
    return min(len(ok), len(top)) / len(top)


def past_window(sims: np.ndarray, texts: np.ndarray, top: list[int], mask: Any) -> bool:
    """Whether a reference top-k document is neither among the k nearest nor among the
    100 best by text score (both among the documents passing the filter)."""
    s = np.where(mask, sims, -np.inf) if mask is not None else sims
    t = np.where(mask, texts, -np.inf) if mask is not None else texts
    seen = set(np.argsort(-s)[:K].tolist()) | set(np.argsort(-t)[:WINDOW].tolist())
    return any(i not in seen for i in top)


def data_sets(n: int, nq: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    texts = sentences(n, seed=1)
    queries = [f"query: {q}" for q in sentences(nq, seed=2)]
    clustered = expand(embedded(texts[:BASE], "docs"), n, np.random.default_rng(4))
    rng = np.random.default_rng(5)

    def unit(rows: int) -> np.ndarray:
        m = rng.normal(size=(rows, clustered.shape[1])).astype(np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    return {
        "clustered": (clustered, embedded(queries, "queries")),
        "random": (unit(n), unit(nq)),
    }


def main(full: bool) -> str:
    from redisvl.index import SearchIndex
    from redisvl.query import AggregateHybridQuery
    from redisvl.query.filter import Tag
    from redisvl.schema import IndexSchema

    from redis_agent_core.capabilities import get_capabilities
    from redis_agent_core.config import RedisAgentConfig
    from redis_agent_core.vectors import VectorIndex
    from redis_agent_core.vectors.query import hybrid_plan

    n = int(os.environ.get("BENCH_HYBRID_N", 20_000 if full else 5_000))
    warm, timed = 10, int(os.environ.get("BENCH_HYBRID_QUERIES", 100))
    nq = warm + timed
    texts = sentences(n, seed=1)
    qtexts = sentences(nq, seed=2)
    rng = np.random.default_rng(3)
    cats = [f"c{int(x)}" for x in rng.integers(0, CATEGORIES, size=n)]
    qcats = [rng.choice(CATEGORIES, size=2, replace=False).tolist() for _ in range(nq)]
    cat_arr = np.array(cats)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    sets = data_sets(n, nq)

    with bench_server() as url:
        client = redis.Redis.from_url(url)
        config = RedisAgentConfig(url=url, namespace="bench")
        caps = get_capabilities(config)
        notes.append(f"FT.HYBRID on this server: {caps.hybrid} (so ours runs without it).")

        def one_set(set_name: str, vectors: np.ndarray, qv: np.ndarray) -> None:
            client.flushall()
            ours = VectorIndex("hyb", config=config, dims=vectors.shape[1], algorithm="flat",
                               metadata_fields={"category": "tag"})  # fmt: skip
            ours.add(texts, ids=[str(i) for i in range(n)],
                     metadatas=[{"category": c} for c in cats], vectors=vectors)  # fmt: skip
            rv = SearchIndex(IndexSchema.from_dict({
                "index": {"name": "rv_hyb", "prefix": "rv_hyb"},
                "fields": [
                    {"name": "text", "type": "text"},
                    {"name": "category", "type": "tag"},
                    {"name": "embedding", "type": "vector", "attrs": {
                        "dims": vectors.shape[1], "algorithm": "flat",
                        "distance_metric": "cosine"}},
                ],
            }), redis_client=client)  # fmt: skip
            rv.create(overwrite=True)
            rv.load(
                ({"text": t, "category": c, "embedding": v.tobytes(), "doc": i}
                 for i, (t, c, v) in enumerate(zip(texts, cats, vectors, strict=True))),
                id_field="doc",
            )  # fmt: skip
            for index_name in (ours.index_name, "rv_hyb"):  # both scans done
                while int(_info(client, index_name).get("indexing", 0)):
                    time.sleep(0.05)
            sims = qv @ vectors.T

            trips = [0]
            run_args = getattr(ours, "_run_args", None)  # None: an older pack, not counted

            def counted(*command: Any) -> Any:
                trips[0] += 1
                return run_args(*command)  # type: ignore[misc]

            if run_args is not None:
                ours._run_args = counted  # type: ignore[method-assign]  # round trips per query

            def ours_query(i: int, filtered: bool) -> list[tuple[int, float]]:
                f = {"$or": [{"category": f"c{c}"} for c in qcats[i]]} if filtered else None
                hits = ours.hybrid(qtexts[i], k=K, vector=qv[i], filter=f)
                return [(int(h.id), float(h.score or 0)) for h in hits]

            def rv_query(i: int, filtered: bool) -> list[tuple[int, float]]:
                f = None
                if filtered:
                    a, b = qcats[i]
                    f = (Tag("category") == f"c{a}") | (Tag("category") == f"c{b}")
                query = AggregateHybridQuery(qtexts[i], "text", qv[i].tobytes(), "embedding",
                                             filter_expression=f, num_results=K,
                                             return_fields=["doc"])  # fmt: skip
                return [(int(r["doc"]), float(r["hybrid_score"])) for r in rv.query(query)]

            systems: dict[str, Callable[[int, bool], list[tuple[int, float]]]] = {
                "ours (VectorIndex.hybrid)": ours_query,
                "redisvl 0.28 AggregateHybridQuery": rv_query,
            }
            prefixes = {"ours (VectorIndex.hybrid)": ours.prefix, "redisvl 0.28 "
                        "AggregateHybridQuery": "rv_hyb:"}  # fmt: skip
            index_names = {"ours (VectorIndex.hybrid)": ours.index_name,
                           "redisvl 0.28 AggregateHybridQuery": "rv_hyb"}  # fmt: skip

            def ours_clause(i: int) -> str:
                vec = qv[i].astype(np.float32).tobytes()
                plan = hybrid_plan(ours.index_name, ours.schema, ours.prefix, qtexts[i], vec,
                                   K, "*", ALPHA)  # fmt: skip
                assert plan is not None
                return plan.clause

            def rv_clause(i: int) -> str:
                return _clause(AggregateHybridQuery(qtexts[i], "text", qv[i].tobytes(),
                                                    "embedding", num_results=K))  # fmt: skip

            clauses = {"ours (VectorIndex.hybrid)": ours_clause,
                       "redisvl 0.28 AggregateHybridQuery": rv_clause}  # fmt: skip
            texts_of: dict[tuple[str, int], np.ndarray] = {}
            for filtered in (False, True):
                samples: dict[str, list[float]] = {name: [] for name in systems}
                agree: dict[str, list[float]] = {name: [] for name in systems}
                off: dict[str, list[float]] = {name: [] for name in systems}
                beyond = 0
                trips[0] = 0
                for i in range(nq):
                    mask = None
                    if filtered:
                        mask = np.isin(cat_arr, [f"c{c}" for c in qcats[i]])
                    order = list(systems) if i % 2 == 0 else list(systems)[::-1]
                    for name in order:
                        start = time.perf_counter()
                        found = systems[name](i, filtered)
                        elapsed = time.perf_counter() - start
                        if i < warm:
                            continue
                        samples[name].append(elapsed)
                        if (name, i) not in texts_of:
                            per_key = text_scores(client, index_names[name],
                                                  clauses[name](i), n)  # fmt: skip
                            texts_of[(name, i)] = np.array(
                                [per_key.get(f"{prefixes[name]}{j}", 0.0) for j in range(n)]
                            )
                        text = texts_of[(name, i)]
                        top, scores = reference(sims[i], text, mask)
                        agree[name].append(agreement(found, top, scores, mask))
                        wrong = sum(abs(s - scores[d]) > 1e-4 for d, s in found)
                        off[name].append(wrong / max(1, len(found)))
                        if name.startswith("ours"):
                            beyond += past_window(sims[i], text, top, mask)
                for name in systems:
                    rows.append({
                        "set": set_name, "filtered": filtered, "name": name,
                        "p50": median_us(samples[name]), "p99": p99_us(samples[name]),
                        "agree": float(np.mean(agree[name])), "off": float(np.mean(off[name])),
                        "beyond": beyond if name.startswith("ours") else None,
                        "trips": trips[0] / nq if name.startswith("ours") else 1.0,
                    })  # fmt: skip
                    print(rows[-1], flush=True)
            if set_name == "clustered":
                text_rows(ours, rv, client, n, qtexts, qcats, cat_arr, warm, rows)
            rv.delete(drop=True)
            ours.drop()

        for set_name, (vectors, qv) in sets.items():
            one_set(set_name, vectors, qv)
        client.close()
    return report(rows, notes, n, timed, full)


def text_rows(
    ours: Any, rv: Any, client: redis.Redis, n: int, qtexts: list[str],
    qcats: list[list[int]], cat_arr: np.ndarray, warm: int, rows: list[dict[str, Any]],
) -> None:  # fmt: skip
    """Text search (BM25STD) with the ``$or`` filter: ours against redisvl's TextQuery;
    the reference is the words' query alone over every document (unlimited), its best
    10 among those passing the filter."""
    from redisvl.query import TextQuery
    from redisvl.query.filter import Tag

    def ours_text(i: int) -> list[tuple[int, float]]:
        f = {"$or": [{"category": f"c{c}"} for c in qcats[i]]}
        return [(int(h.id), float(h.score or 0)) for h in ours.text_search(qtexts[i], K, filter=f)]

    def rv_text(i: int) -> list[tuple[int, float]]:
        a, b = qcats[i]
        f = (Tag("category") == f"c{a}") | (Tag("category") == f"c{b}")
        query = TextQuery(qtexts[i], "text", filter_expression=f, num_results=K,
                          return_fields=["doc"], return_score=True)  # fmt: skip
        return [(int(r["doc"]), float(r["score"])) for r in rv.query(query)]

    def words(name: str, i: int) -> str:
        if name == "ours":
            command = text_command(ours.index_name, ours.schema, qtexts[i], K, "*")
            assert command is not None
            return str(command[2])
        return TextQuery(qtexts[i], "text", num_results=K).query_string()

    systems = {"ours": (ours_text, ours.index_name, ours.prefix),
               "redisvl": (rv_text, "rv_hyb", "rv_hyb:")}  # fmt: skip
    stats: dict[str, dict[str, list[float]]] = {s: {"t": [], "a": [], "o": []} for s in systems}
    for i in range(len(qtexts)):
        mask = np.isin(cat_arr, [f"c{c}" for c in qcats[i]])
        for name in list(systems) if i % 2 == 0 else list(systems)[::-1]:
            run, index, prefix = systems[name]
            start = time.perf_counter()
            found = run(i)
            elapsed = time.perf_counter() - start
            if i < warm:
                continue
            per_key = text_scores(client, index, words(name, i), n)
            text = np.array([per_key.get(f"{prefix}{j}", 0.0) for j in range(n)])
            ranked = np.where(mask & (text > 0), text, -np.inf)
            top = [j for j in np.argsort(-ranked, kind="stable")[:K] if ranked[j] > -np.inf]
            stats[name]["t"].append(elapsed)
            stats[name]["a"].append(agreement(found, top, text, mask))
            stats[name]["o"].append(
                sum(abs(s - text[d]) > 1e-4 for d, s in found) / max(1, len(found))
            )
    for name, label in (("ours", "ours (VectorIndex.text_search)"),
                        ("redisvl", "redisvl 0.28 TextQuery")):  # fmt: skip
        st = stats[name]
        rows.append({
            "set": "text only", "filtered": True, "name": label,
            "p50": median_us(st["t"]), "p99": p99_us(st["t"]), "agree": float(np.mean(st["a"])),
            "off": float(np.mean(st["o"])), "beyond": None,
            "trips": None,
        })  # fmt: skip
        print(rows[-1], flush=True)


def _info(client: redis.Redis, index: str) -> dict[str, Any]:
    raw = client.execute_command("FT.INFO", index)
    if isinstance(raw, dict):
        return {text_of(k): v for k, v in raw.items()}
    return {text_of(raw[i]): raw[i + 1] for i in range(0, len(raw), 2)}


def report(rows: list[dict[str, Any]], notes: list[str], n: int, timed: int, full: bool) -> str:
    headers = ["data", "filter", "library", "p50 µs", "p99 µs", "agree@10", "scores off",
               "round trips", f"queries past k nearest + {WINDOW}"]  # fmt: skip
    body = [
        [r["set"], "$or of 2 tags" if r["filtered"] else "none", r["name"], r["p50"], r["p99"],
         f"{r['agree']:.3f}", f"{r['off']:.1%}",
         "-" if r["trips"] is None else f"{r['trips']:.1f}",
         "-" if r["beyond"] is None else f"{r['beyond']} of {timed}"]
        for r in rows
    ]  # fmt: skip
    lines = [
        f"# Hybrid search without FT.HYBRID ({n:,} docs, 384-d, k = {K}"
        f"{', full mode' if full else ''})",
        "",
        machine_note(),
        "",
        "Embedded Redis 8.2 + RediSearch 2.10 (no FT.HYBRID). Both at their defaults "
        f"(alpha {ALPHA}, BM25STD), both indexes FLAT; {timed} timed queries (after 10 "
        "warm-up) per row, interleaved. agree@10: share of the exact reference's top 10 "
        "returned (ties at the 10th counted as found); the reference is "
        f"`{ALPHA} * (1 + cos) / 2 + {1 - ALPHA:.1f} * text_score` "
        "over every document (text_score: BM25STD of the query's optional text clause alone, "
        "one unlimited FT.SEARCH; cosine in numpy). scores off: returned hits whose score "
        "is not the reference's. Last column: queries whose exact top 10 holds a document "
        f"outside the 10 nearest and the {WINDOW} best by text score (a fixed window of "
        f"{WINDOW} would miss it; ours widens then).",
        "",
        table(headers, body),
        "",
        "- langchain-redis 0.2.6 (installed) has no hybrid search; its 0.3 line runs "
        "redisvl's AggregateHybridQuery on Redis < 8.4 (the redisvl rows).",
        "- Ours: the k nearest and the window of the best 100 by text score in one pipeline, "
        "then the distances of the window's documents that could still rank, then the text "
        "scores (a one-key search each) of the nearest outside the window that could; a "
        "candidate is read only when its upper bound reaches the k-th best lower bound "
        "(`round trips` above); a wider window does not read again what a narrower one "
        "read. redisvl's is one FT.AGGREGATE. Measured apart (5,000 random, "
        "load 0.3-1.7): the nearest 0.65 ms, the window 1.25 ms, ten one-key text scores "
        "0.62 ms, the distances of 100 window documents 1.36 ms (of 40: 0.95); the whole "
        "query 6.06 ms before (3 round trips, every candidate read, each reply parsed 3 "
        "times) and 3.29 ms after (unfiltered: 2.0 round trips, 42 of the window read).",
        "- Before -> after (main d547223's hybrid against this one, the same bench run "
        "alternately main, ours, main, ours, 17:14-17:17 UTC, load 7.3-8.2; two runs each): "
        "ours p50 clustered unfiltered 13.8 / 12.7 -> 8.9 / 7.9 ms, filtered 12.8 / 11.8 -> "
        "8.9 / 7.5 ms; random unfiltered 14.9 / 11.7 -> 9.3 / 11.4 ms, filtered 14.1 / 11.4 "
        "-> 10.2 / 12.1 ms (redisvl's in the same runs 3.1-5.9 ms); round trips 3.0 / 3.3 / "
        "3.0 / 3.1 -> 2.0 / 2.5 / 2.0 / 2.2; agree@10 1.000 and no score off in every run.",
        "- text only: text search with the same filter, ours (`text_search`) against "
        "redisvl's TextQuery; the reference is the words' query alone over every document, "
        "its best 10 among those passing the filter (scores: BM25STD of that query).",
        *[f"- {note}" for note in notes],
    ]
    return "\n".join(lines) + "\n"
