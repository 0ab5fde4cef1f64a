"""A filter must not change hybrid scores. RediSearch scores every TAG and TEXT clause
of a query, the filter's too (RediSearch#6707 stopped it for ``FT.HYBRID`` only), so on
the ``FT.AGGREGATE`` path (Redis < 8.4, redisvl's AggregateHybridQuery, which
langchain-redis uses there too) a tenant filter added its own BM25 to the "text score":
a document holding none of the query's words got one, a ``$or`` of two tags ranked such
a document first with a score above 1, and the scores of the others moved with the
filter. The filter now selects, and only the query's words score."""

from __future__ import annotations

import asyncio

import pytest

from redis_agent_core.config import RedisAgentConfig
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
