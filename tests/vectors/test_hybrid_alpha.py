"""``alpha`` of a hybrid query is checked before anything runs, sync and async: ``None``
raised a bare ``TypeError`` from a comparison, and a query whose text had no searchable
term fell back to a vector search without reading ``alpha`` at all (``alpha=5`` ran)."""

from __future__ import annotations

import asyncio
import math

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.vectors import VectorIndex

BAD = [None, "0.5", True, -0.1, 1.5, math.nan]


def _index(config: RedisAgentConfig) -> VectorIndex:
    index = VectorIndex("hyb-alpha", dims=2, algorithm="flat", config=config)
    index.add(["redis streams", "the"], ids=["a", "b"], vectors=[[1.0, 0.0], [0.0, 1.0]])
    return index


@pytest.mark.parametrize("alpha", BAD)
@pytest.mark.parametrize("text", ["redis", "the"])  # "the": no searchable term
def test_a_bad_alpha_is_a_config_error_naming_it(
    config: RedisAgentConfig, alpha: object, text: str
) -> None:
    index = _index(config)
    with pytest.raises(ConfigError, match="alpha must be a number within"):
        index.hybrid(text, k=2, vector=[1.0, 0.0], alpha=alpha)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="alpha must be a number within"):
        asyncio.run(index.ahybrid(text, k=2, vector=[1.0, 0.0], alpha=alpha))  # type: ignore[arg-type]
    assert [h.id for h in index.hybrid(text, k=1, vector=[1.0, 0.0], alpha=1)] == ["a"]
