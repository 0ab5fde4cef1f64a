"""A model's reported usage with a token count no call has (negative: a model's bug;
past 10^13) was stored as is: a hit replayed it and added it to tokens_saved, which
fell (or, past 64 bits, made the lookup script fail). Such usage is unknown (None), as
the batch jobs already settle it: one shared check (cache.entry.usage_tokens)."""

from __future__ import annotations

from typing import Any

import pytest

from redis_agent_core.cache import ExactCache, SemanticCache
from redis_agent_core.cache.entry import usage_tokens
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from redis_agent_core.tasks.batch import charged_tokens


@pytest.mark.parametrize("kind", ["exact", "semantic"])
@pytest.mark.parametrize(
    "usage",
    [
        {"total_tokens": -50},
        {"prompt_tokens": -60, "completion_tokens": 10},
        {"total_tokens": 10**20},
        {"input_tokens": float("nan"), "output_tokens": 3},
    ],
    ids=["negative total", "negative part", "past 10^13", "nan"],
)
def test_usage_no_call_has_is_stored_as_unknown(
    config: RedisAgentConfig, toy_embedder: CallableEmbedder, kind: str, usage: dict[str, Any]
) -> None:
    cache: Any = (
        ExactCache(config) if kind == "exact" else SemanticCache(config, embedder=toy_embedder)
    )
    cache.update("What is 2+2?", "s", "4", usage={"total_tokens": 30})
    cache.update("What is 3+3?", "s", "6", usage=usage)
    for _ in range(2):
        hit = cache.lookup("What is 3+3?", "s")
        assert hit is not None and hit.payload == "6"
        assert hit.usage is None  # not replayed as the model gave it
    good = cache.lookup("What is 2+2?", "s")
    assert good is not None and good.usage == {"total_tokens": 30}
    assert cache.stats().tokens_saved == 30  # never fell, never failed


def test_one_check_for_the_caches_and_the_batch_jobs() -> None:
    assert usage_tokens({"prompt_tokens": 5, "completion_tokens": 2}) == 7
    assert usage_tokens({"total_tokens": 9, "prompt_tokens": -1}) == 9  # the total decides
    assert usage_tokens({"cost": 0.1}) is None
    for bad in ({"total_tokens": -1}, {"output_tokens": -3, "input_tokens": 5}):
        assert usage_tokens(bad) is None
        assert charged_tokens(bad, 40) == 40  # the estimate stays charged
    assert charged_tokens({"total_tokens": 12}, 40) == 12
