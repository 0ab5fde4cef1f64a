"""Text and hybrid queries give the exact best ``k`` over the whole index, a filter only
selecting. A filtered text search used to rank by the filter's clauses too (a ``$or`` of
two tags added its own BM25 and changed the order), and a hybrid query saw only the k
nearest and the 100 best word matches: a document past both was never a candidate."""

from __future__ import annotations

import asyncio
import warnings

import numpy as np
import pytest
import redis

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.redis_errors import is_command_refusal
from redis_agent_core.search.capabilities import _has_command, probe
from redis_agent_core.search.executor import run
from redis_agent_core.search.replies import search_rows
from redis_agent_core.server import EmbeddedRedis
from redis_agent_core.vectors import VectorIndex
from redis_agent_core.vectors.query import doc_id, hybrid_plan, native_hybrid_query
from redis_agent_core.vectors.schema import METADATA_FIELD

FILLER = " ".join(f"filler{i}" for i in range(40))


def _rounded(hits: list) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 6)) for h in hits]


@pytest.mark.parametrize("storage", ["hash", "json"])
def test_a_filtered_text_search_ranks_by_the_words_alone(
    config: RedisAgentConfig, storage: str
) -> None:
    index = VectorIndex(
        f"txt-{storage}", dims=2, algorithm="flat", storage=storage, config=config,
        metadata_fields={"t": "tag", "body": "text"},
    )  # fmt: skip
    texts = ["redis redis cache " + FILLER, "redis cache", "cache", "redis " + FILLER, "queue"]
    tags = ["x", "y", "x", "y", "x"]
    bodies = ["alpha", "alpha beta gamma", "alpha", "beta", "alpha"]
    index.add(
        texts, ids=[f"d{i}" for i in range(5)], vectors=[[1.0, 0.0]] * 5,
        metadatas=[{"t": t, "body": b} for t, b in zip(tags, bodies, strict=True)],
    )  # fmt: skip
    every = index.text_search("redis cache", k=5)
    assert {h.id for h in every} == {"d0", "d1", "d2", "d3"}
    passes = {
        "x": {"d0", "d2", "d4"},
        "$or": {"d0", "d1", "d2", "d3", "d4"},
        "body": {"d0", "d1", "d2", "d4"},
    }
    filters = {
        "x": {"t": "x"},
        "$or": {"$or": [{"t": "x"}, {"t": "y"}]},
        "body": {"body": "alpha"},
    }
    for name, f in filters.items():
        expected = [h for h in _rounded(every) if h[0] in passes[name]]
        for k in (1, 2, 5):
            got = index.text_search("redis cache", k=k, filter=f)
            agot = asyncio.run(index.atext_search("redis cache", k=k, filter=f))
            # the unfiltered order and scores, restricted to the documents passing
            assert _rounded(got) == _rounded(agot) == expected[:k], (name, k)


def _past_the_window(config: RedisAgentConfig, name: str, n: int) -> VectorIndex:
    """``n`` short documents hold the word and fail the filter ``{"t": "y"}``; the 3 that
    pass rank ``n``th and beyond by the words."""
    index = VectorIndex(name, dims=2, algorithm="flat", config=config,
                        metadata_fields={"t": "tag"})  # fmt: skip
    texts = ["redis"] * n + [f"redis {FILLER} {i}" for i in range(3)]
    index.add(
        texts, ids=[f"d{i}" for i in range(n + 3)], vectors=[[1.0, 0.0]] * (n + 3),
        metadatas=[{"t": "x"}] * n + [{"t": "y"}] * 3,
    )  # fmt: skip
    return index


def test_a_filtered_text_search_finds_matches_past_the_first_window(
    config: RedisAgentConfig,
) -> None:
    """150 short documents hold the word and fail the filter; the 3 that pass rank
    150th and beyond by the words: the search widens its window until it finds them."""
    n = 150
    index = _past_the_window(config, "txt-window", n)
    every = {h.id: round(h.score, 6) for h in index.text_search("redis", k=n + 3)}
    got = index.text_search("redis", k=2, filter={"t": "y"})
    assert len(got) == 2 and all(h.id in {"d150", "d151", "d152"} for h in got)
    assert [round(h.score, 6) for h in got] == [every[h.id] for h in got]


@pytest.mark.parametrize("filtered", [False, True])
def test_hybrid_finds_the_best_document_past_the_first_window(
    config: RedisAgentConfig, filtered: bool
) -> None:
    """The k nearest hold no word, 120 short documents hold it far away by vector, and
    the best document by the hybrid score holds it in a longer text (so ranks past the
    first 100 by the words: 0.032 against 0.041) close by vector: it was never a
    candidate. At alpha 0.05 it scores 0.076, the nearest 0.05, the others 0.039."""
    index = VectorIndex("hyb-window", dims=2, algorithm="flat", config=config,
                        metadata_fields={"t": "tag"})  # fmt: skip
    n = 120
    texts = ["redis"] * n + ["nothing", "nothing", "redis filler"]
    vectors = [[-1.0, 0.0]] * n + [[1.0, 0.0], [1.0, 0.0], [0.8, 0.6]]
    index.add(texts, ids=[f"d{i}" for i in range(n + 3)], vectors=vectors,
              metadatas=[{"t": "x"}] * (n + 3))  # fmt: skip
    f = {"t": "x"} if filtered else None
    every = index.hybrid("redis", k=n + 3, vector=[1.0, 0.0], alpha=0.05, filter=f)
    best = _rounded(every[:2])
    assert "d122" in dict(best), best  # the setup: it is among the best two
    assert _rounded(index.hybrid("redis", k=2, vector=[1.0, 0.0], alpha=0.05, filter=f)) == best
    got = asyncio.run(index.ahybrid("redis", k=2, vector=[1.0, 0.0], alpha=0.05, filter=f))
    assert _rounded(got) == best


def test_the_probe_reads_a_command_the_user_may_not_run_as_absent(own_redis: EmbeddedRedis) -> None:
    """``FT.HYBRID`` is used only where the probe found it. The probe called it with no
    arguments and read any refusal but "unknown command" as "it exists": a user refused
    it by ACL (NOPERM) got the FT.HYBRID path, and every hybrid query failed. Shown with
    FT.INFO (this server has no FT.HYBRID to refuse)."""
    admin = redis.Redis.from_url(own_redis.url)
    admin.execute_command("ACL", "SETUSER", "no-info", "on", ">pw", "~*", "+@all", "-ft.info")
    user = redis.Redis.from_url(own_redis.url, username="no-info", password="pw")
    try:
        assert run(admin.execute_command, _has_command("FT.INFO"), only=is_command_refusal)
        assert not run(user.execute_command, _has_command("FT.INFO"), only=is_command_refusal)
        assert not run(admin.execute_command, _has_command("FT.HYBRID"), only=is_command_refusal)
        assert probe(user).hybrid is False
    finally:
        user.close()
        admin.close()


def test_the_ft_hybrid_query_weighs_as_the_aggregate_path() -> None:
    """The native query (Redis >= 8.4, not runnable here) is a pure builder: alpha on the
    vector side (FT.HYBRID's ALPHA weighs the text), the filter in FILTER, k results."""
    schema = VectorIndex("native", dims=2, metadata_fields={"t": "tag"},
                         config=RedisAgentConfig(url="redis://unused:1")).schema  # fmt: skip
    vec = np.zeros(2, np.float32).tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # redisvl marks FT.HYBRID experimental
        query = native_hybrid_query(schema, "redis cache", vec, 5, "@t:{x}", 0.8)
        plain = native_hybrid_query(schema, "redis cache", vec, 5, "*", 0.8)
        with pytest.raises(ConfigError, match="alpha"):
            native_hybrid_query(schema, "redis cache", vec, 5, "*", 1.5)
    combine = query.combination_method.get_args()
    assert combine[:2] == ["COMBINE", "LINEAR"]
    assert combine[combine.index("ALPHA") + 1] == pytest.approx(0.2)  # text side
    assert combine[combine.index("BETA") + 1] == pytest.approx(0.8)  # vector side
    args = query.query.get_args()
    assert args[args.index("FILTER") + 1] == "@t:{x}"
    assert "FILTER" not in plain.query.get_args()
    assert f"@{schema.text_field}:(redis | cache)" in args[1]
    post = query.postprocessing_config.build_args()
    assert post[post.index("LIMIT") + 1 : post.index("LIMIT") + 3] == ["0", "5"]
    assert f"@{schema.text_field}" in post and f"@{METADATA_FIELD}" in post


def test_hybrid_scores_and_ranks_as_the_formula_over_every_document(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    """The exact reference: each document's text score from one unlimited search of the
    text clause (no INKEYS), its similarity in numpy, the best 10 by the formula. The
    candidates' text scores came from one INKEYS search, which RediSearch 2.10 scores
    wrongly for some keys of a long list (a document 13.37 by itself read 2.64 among
    109, with a query word no document holds, as "absent" here): the best documents by
    the formula were left out (2 of 80 here)."""
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(120)]
    n = 1000
    texts = [" ".join(rng.choice(vocab, size=rng.integers(6, 12))) for _ in range(n)]
    vectors = rng.normal(size=(n, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex("hyb-formula", dims=8, algorithm="flat", config=config)
    index.add(texts, ids=[str(i) for i in range(n)], vectors=vectors)
    misses = 0
    for _ in range(8):
        words = " ".join(rng.choice(vocab, size=5, replace=False)) + " absent"
        qv = rng.normal(size=8).astype(np.float32)
        qv /= np.linalg.norm(qv)
        plan = hybrid_plan(index.index_name, index.schema, index.prefix, words, qv.tobytes(),
                           10, "*", 0.3)  # fmt: skip
        assert plan is not None
        reply = redis_client.execute_command(
            "FT.SEARCH", index.index_name, plan.clause, "WITHSCORES", "SCORER", "BM25STD",
            "NOCONTENT", "LIMIT", 0, n, "DIALECT", 2,
        )  # fmt: skip
        text = dict.fromkeys(range(n), 0.0)
        for key, score, _ in search_rows(reply)[1]:
            text[int(doc_id(index.prefix, key))] = float(score or 0)
        formula = 0.3 * (1 + vectors @ qv) / 2 + 0.7 * np.array([text[i] for i in range(n)])
        best = set(np.argsort(-formula)[:10].tolist())
        hits = index.hybrid(words, k=10, vector=qv, alpha=0.3)
        assert [h.score for h in hits] == pytest.approx([formula[int(h.id)] for h in hits])
        misses += len(best - {int(h.id) for h in hits})
    assert misses == 0


def test_a_window_past_maxsearchresults_says_what_to_raise_not_to_ask_fewer(
    own_redis: EmbeddedRedis,
) -> None:
    """review26: the windows a filtered text search or a hybrid query reads grow past the
    server's MAXSEARCHRESULTS (Redis Software and Cloud may set it low) for a k of 2: the
    refusal said "ask for fewer results", which no k would mend."""
    admin = redis.Redis.from_url(own_redis.url)
    config = RedisAgentConfig(url=own_redis.url, namespace="maxres")
    index = _past_the_window(config, "txt-max", 150)
    before = admin.execute_command("FT.CONFIG", "GET", "MAXSEARCHRESULTS")
    admin.execute_command("FT.CONFIG", "SET", "MAXSEARCHRESULTS", "120")
    try:
        calls = [
            lambda: index.text_search("redis", k=2, filter={"t": "y"}),
            lambda: asyncio.run(index.atext_search("redis", k=2, filter={"t": "y"})),
            lambda: index.hybrid("redis", k=2, vector=[1.0, 0.0], filter={"t": "y"}),
            lambda: asyncio.run(index.ahybrid("redis", k=2, vector=[1.0, 0.0], filter={"t": "y"})),
        ]
        for call in calls:
            with pytest.raises(ConfigError, match="MAXSEARCHRESULTS") as refused:
                call()
            assert "fewer results" not in str(refused.value)
            assert "k=2" in str(refused.value)
        assert [h.id for h in index.text_search("redis", k=2)] == ["d0", "d1"]  # no window
    finally:
        admin.execute_command("FT.CONFIG", "SET", "MAXSEARCHRESULTS", *before.values())
        config.close()
        admin.close()


def test_an_unfiltered_hybrid_query_takes_two_round_trips_and_reads_only_what_can_rank(
    config: RedisAgentConfig, redis_client: redis.Redis
) -> None:
    """left27: the nearest, the window of the best 100 by the words, then the text score
    of each of the nearest outside the window and the distance of each window document
    outside the nearest were three round trips reading 103 documents, for an answer the
    first two replies already bounded: the nearest (far by vector, no word) cannot rank,
    and only the window documents whose text score reaches the k-th best can. Now the
    first two searches share a pipeline and only what can rank is read: 2 round trips,
    the same exact answer (the formula over every document)."""
    n = 200
    texts = ["redis " + " ".join(f"x{j}" for j in range(i)) for i in range(n)]
    texts += [f"other {i}" for i in range(n)]
    vectors = np.array([[-1.0, 0.001 * i] for i in range(2 * n)], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex("hyb-trips", dims=2, algorithm="flat", config=config)
    index.add(texts, ids=[str(i) for i in range(2 * n)], vectors=vectors)
    qv = np.array([1.0, 0.0], dtype=np.float32)
    plan = hybrid_plan(index.index_name, index.schema, index.prefix, "redis", qv.tobytes(),
                       3, "*", 0.7)  # fmt: skip
    assert plan is not None
    reply = redis_client.execute_command(
        "FT.SEARCH", index.index_name, plan.clause, "WITHSCORES", "SCORER", "BM25STD",
        "NOCONTENT", "LIMIT", 0, 2 * n, "DIALECT", 2,
    )  # fmt: skip
    text = np.zeros(2 * n)
    for key, score, _ in search_rows(reply)[1]:
        text[int(doc_id(index.prefix, key))] = float(score or 0)
    formula = 0.7 * (1 + vectors @ qv) / 2 + 0.3 * text
    expected = [(str(i), round(float(formula[i]), 6)) for i in np.argsort(-formula)[:3]]

    sent: list[list] = []  # one entry per round trip: the commands sent in it
    sync_run, async_run = index._run_args, index._arun_args

    def counted(*command: object) -> object:
        sent.append(list(command) if isinstance(command[0], list) else [list(command)])
        return sync_run(*command)

    async def acounted(*command: object) -> object:
        sent.append(list(command) if isinstance(command[0], list) else [list(command)])
        return await async_run(*command)

    index._run_args = counted  # type: ignore[method-assign]
    index._arun_args = acounted  # type: ignore[method-assign]
    for call in (lambda: index.hybrid("redis", k=3, vector=qv),
                 lambda: asyncio.run(index.ahybrid("redis", k=3, vector=qv))):  # fmt: skip
        sent.clear()
        assert _rounded(call()) == expected
        assert len(sent) == 2, [[c[0] for c in trip] for trip in sent]
        read = [c[c.index("INKEYS") + 1] for trip in sent[1:] for c in trip if "INKEYS" in c]
        assert sum(read) < 50, read  # keys read past the first pipeline: 16, not 103
