"""A filter must not change hybrid scores. RediSearch scores every TAG and TEXT clause
of a query, the filter's too (RediSearch#6707 stopped it for ``FT.HYBRID`` only), so on
the ``FT.AGGREGATE`` path (Redis < 8.4, redisvl's AggregateHybridQuery, which
langchain-redis uses there too) a tenant filter added its own BM25 to the "text score":
a document holding none of the query's words got one, a ``$or`` of two tags ranked such
a document first with a score above 1, and the scores of the others moved with the
filter. The filter now selects, and only the query's words score."""

from __future__ import annotations

import asyncio
import time

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.search.replies import indexing_done
from redis_agent_core.vectors import F, VectorIndex

LONG = "redis " + " ".join(f"word{i}" for i in range(60))
FILTERS = [
    {"t": "x"},
    {"$or": [{"t": "x"}, {"t": "y"}]},
    {"body": "alpha"},
    F("t") != "none",
]


def _index(config: RedisAgentConfig, storage: str) -> VectorIndex:
    index = VectorIndex(
        f"hyb-{storage}", dims=2, algorithm="flat", storage=storage, config=config,
        metadata_fields={"t": "tag", "body": "text"},
    )  # fmt: skip
    index.add(
        [LONG, "tiny", "other words here"],
        ids=["has-word", "short", "other"],
        metadatas=[
            {"t": "x", "body": "alpha"},
            {"t": "x", "body": "alpha beta gamma delta"},
            {"t": "y", "body": "alpha"},
        ],
        vectors=[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]],  # same vector: only the text ranks
    )
    return index


def _scores(hits: list) -> dict[str, float]:
    return {h.id: round(h.score, 6) for h in hits}


@pytest.mark.parametrize("storage", ["hash", "json"])
def test_a_filter_selects_documents_and_leaves_their_hybrid_scores(
    config: RedisAgentConfig, storage: str
) -> None:
    index = _index(config, storage)
    unfiltered = _scores(index.hybrid("redis", k=3, vector=[1.0, 0.0], alpha=0.3))
    # alpha * 1.0 (same vector) + 0.7 * text: only "has-word" holds the query's word
    assert unfiltered["short"] == unfiltered["other"] == pytest.approx(0.3)
    assert unfiltered["has-word"] > 0.3
    for f in FILTERS:
        for hits in (
            index.hybrid("redis", k=3, vector=[1.0, 0.0], alpha=0.3, filter=f),
            asyncio.run(index.ahybrid("redis", k=3, vector=[1.0, 0.0], alpha=0.3, filter=f)),
        ):
            # the document with the word stays first, every score is the unfiltered one
            # (before: "short" scored 0.745 under {"t": "x"}, and under the $or "other"
            # ranked first with 1.197)
            assert hits[0].id == "has-word", (f, hits)
            assert _scores(hits) == {h: unfiltered[h] for h in _scores(hits)}, f
            assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_a_document_holding_the_words_is_found_outside_the_k_nearest(
    config: RedisAgentConfig,
) -> None:
    """The aggregate's candidates were the k nearest by vector (``KNN k``, then BM25
    added): the only document holding "redis", farthest by vector, was never returned
    at k=2 (scored 0.837, it lost to two documents scored 0.3); k=3 showed it first."""
    index = VectorIndex("hyb-words", dims=2, algorithm="flat", config=config,
                        metadata_fields={"t": "tag"})  # fmt: skip
    index.add(
        ["redis streams", "cooking pasta", "garden tools"],
        ids=["word", "near", "nearish"],
        metadatas=[{"t": "x"}, {"t": "x"}, {"t": "x"}],
        vectors=[[0.0, 1.0], [1.0, 0.0], [1.0, 0.1]],
    )
    wide = _scores(index.hybrid("redis", k=3, vector=[1.0, 0.0], alpha=0.3))
    assert max(wide, key=wide.__getitem__) == "word"
    for f in (None, {"t": "x"}):
        for hits in (
            index.hybrid("redis", k=2, vector=[1.0, 0.0], alpha=0.3, filter=f),
            asyncio.run(index.ahybrid("redis", k=2, vector=[1.0, 0.0], alpha=0.3, filter=f)),
        ):
            assert [h.id for h in hits] == ["word", "near"]
            assert _scores(hits) == {"word": wide["word"], "near": wide["near"]}


def _scanned(config: RedisAgentConfig, index: VectorIndex) -> None:
    client = config.get_client()
    for _ in range(400):
        if indexing_done(client.execute_command("FT.INFO", index.index_name)):
            return
        time.sleep(0.05)
    raise AssertionError("the index never finished scanning")


def test_documents_added_right_after_the_index_is_made_count_once_in_bm25(
    config: RedisAgentConfig,
) -> None:
    """FT.CREATE scans every key already in Redis in the background (RediSearch 2.10);
    a document written meanwhile was indexed a second time when the scan reached it,
    and BM25 counted it twice until the garbage collector ran (30 s and more): on a
    server holding other keys, the same three documents scored 0.54 in place of 0.98
    per word ("IDF 0.47", "Average Doc Len 4"), and hybrid scores changed between two
    calls of one test. Creating the index now waits for its scan before writing."""
    texts = ["redis streams", "cooking pasta", "garden tools"]
    vectors = [[0.0, 1.0], [1.0, 0.0], [1.0, 0.1]]
    alone = VectorIndex("scan-ref", dims=2, algorithm="flat", config=config)
    alone.add(texts, ids=["word", "near", "nearish"], vectors=vectors)
    client = config.get_client()
    pipe = client.pipeline(transaction=False)
    for i in range(20_000):  # other keys, under no index's prefix
        pipe.hset(f"{config.namespace}:other:{i}", "f", "v")
    pipe.execute()
    index = VectorIndex("scan-new", dims=2, algorithm="flat", config=config)
    index.add(texts, ids=["word", "near", "nearish"], vectors=vectors)
    _scanned(config, index)
    for ask in (
        lambda i: i.text_search("redis", k=3),
        lambda i: i.hybrid("redis", k=3, vector=[1.0, 0.0], alpha=0.3),
    ):
        assert _scores(ask(index)) == _scores(ask(alone))
