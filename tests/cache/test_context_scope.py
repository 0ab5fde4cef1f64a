"""context_scope: a history-dependent answer is scoped to its exact history and the
share policy; a context-free one keeps the model's scope."""

from __future__ import annotations

import pytest

from redis_agent_core.cache import SemanticCache, context_scope, make_scope
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.errors import ConfigError

BASE = make_scope({"model": "m"})
A = [("human", "I live at 12 Oak Street."), ("ai", "Noted.")]
B = [("human", "I live at 34 Elm Road."), ("ai", "Noted.")]


@pytest.mark.parametrize("share", ["global", "user", "session"])
def test_no_history_keeps_the_shared_scope(share: str) -> None:
    assert context_scope(BASE, [], share=share, user="u", session="s") == BASE  # type: ignore[arg-type]


@pytest.mark.parametrize("share", ["global", "user", "session"])
def test_different_histories_never_share_a_scope(share: str) -> None:
    a = context_scope(BASE, A, share=share, user="u", session="s")  # type: ignore[arg-type]
    b = context_scope(BASE, B, share=share, user="u", session="s")  # type: ignore[arg-type]
    assert len({a, b, BASE}) == 3


def test_share_policy_widens_or_narrows_an_identical_history() -> None:
    def scope(share: str, user: str, session: str) -> str:
        return context_scope(BASE, A, share=share, user=user, session=session)  # type: ignore[arg-type]

    assert scope("global", "u1", "s1") == scope("global", "u2", "s2")
    assert scope("user", "u1", "s1") == scope("user", "u1", "s2")
    assert scope("user", "u1", "s1") != scope("user", "u2", "s1")
    assert scope("session", "u1", "s1") != scope("session", "u1", "s2")
    # role and order are part of what the model saw
    assert context_scope(BASE, [("ai", "x"), ("human", "y")], share="global") != context_scope(
        BASE, [("human", "x"), ("ai", "y")], share="global"
    )


def test_policy_arguments_are_checked() -> None:
    with pytest.raises(ConfigError, match="share must be one of"):
        context_scope(BASE, A, share="everyone")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs user="):
        context_scope(BASE, A, share="user")
    with pytest.raises(ConfigError, match="needs session="):
        context_scope(BASE, A, share="session", user="u")


async def test_a_cache_serves_an_answer_only_to_its_history(
    aconfig: RedisAgentConfig, minilm: object
) -> None:
    cache = SemanticCache(aconfig, embedder=minilm, name="ctx")  # type: ignore[arg-type]
    q = "where do I live?"
    await cache.aupdate(q, context_scope(BASE, A, user="alice"), '"12 Oak Street"')
    assert await cache.alookup(q, context_scope(BASE, B, user="bob")) is None
    assert await cache.alookup(q, context_scope(BASE, A, user="bob")) is None  # default "user"
    hit = await cache.alookup(q, context_scope(BASE, A, user="alice"))
    assert hit is not None and hit.payload == '"12 Oak Street"'
