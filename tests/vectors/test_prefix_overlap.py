"""Two stores whose key prefixes nest (``app`` and ``app:sub``) would share documents:
RediSearch indexes every key starting with a prefix, so the outer store would find,
count and clear the inner one's documents (llama_index#6665: a vector store's
``overwrite`` deleted a docstore's keys). Creating the second index raises instead,
before anything is written; the same prefix and sibling prefixes stay allowed."""

from __future__ import annotations

import pytest

from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError
from redis_agent_core.vectors import VectorIndex


def _index(config: RedisAgentConfig, name: str, prefix: str) -> VectorIndex:
    return VectorIndex(name, dims=2, config=config, key_prefix=prefix, algorithm="flat")


@pytest.mark.parametrize("first, second", [("app:", "app:sub:"), ("app:sub:", "app:")])
def test_nested_key_prefixes_are_refused_before_any_write(
    config: RedisAgentConfig, namespace: str, first: str, second: str
) -> None:
    one = _index(config, "one", f"{namespace}:{first}")
    one.add(["kept"], ids=["x"], vectors=[[1.0, 0.0]])
    two = _index(config, "two", f"{namespace}:{second}")
    with pytest.raises(ConfigError, match="one prefix starts with the other"):
        two.add(["theirs"], ids=["x"], vectors=[[0.0, 1.0]])
    assert not two.exists()
    assert [h.id for h in one.search([1.0, 0.0], 10)] == ["x"]
    assert one.clear() == 1  # only its own document


def test_same_and_sibling_prefixes_are_allowed(config: RedisAgentConfig, namespace: str) -> None:
    one = _index(config, "one", f"{namespace}:app:")
    one.add(["a"], ids=["x"], vectors=[[1.0, 0.0]])
    sibling = _index(config, "two", f"{namespace}:app-b:")
    sibling.add(["b"], ids=["y"], vectors=[[0.0, 1.0]])
    same = _index(config, "three", f"{namespace}:app:")  # a second index over one's documents
    same.add(["c"], ids=["z"], vectors=[[0.9, 0.1]])
    assert [h.id for h in one.search([1.0, 0.0], 10)] == ["x", "z"]
    assert [h.id for h in sibling.search([1.0, 0.0], 10)] == ["y"]
