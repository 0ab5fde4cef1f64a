"""Prompt text never becomes a key: after every role that stores a prompt wrote one,
no key (nor search index) of the namespace carries the prompt or any of its words."""

from __future__ import annotations

import re

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import Generation
from llama_index.core.base.llms.types import ChatMessage

from langchain_redis_agent import RedisChatMessageHistory
from langchain_redis_agent.cache import RedisCache, RedisSemanticCache
from langchain_redis_agent.middleware import CACHE_MARK, SemanticCacheMiddleware
from llamaindex_redis_agent import RedisChatStore
from redis_agent_core.cache import ExactCache, SemanticCache, make_scope
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from tests.conftest import skip_unless

from .conftest import CountingModel

PROMPT = "Quixotic marmalade hovercraft ledgers: zephyr BRAMBLE?"
WORDS = [w.lower() for w in re.findall(r"\w+", PROMPT) if len(w) > 4]


def _names(config: RedisAgentConfig) -> list[str]:
    """Every key of the namespace (SCAN) and every search index named under it."""
    client = config.get_client()
    keys = [k.decode("utf-8", "replace") for k in client.scan_iter(f"{config.namespace}:*")]
    indexes = [
        n.decode() if isinstance(n, bytes) else str(n) for n in client.execute_command("FT._LIST")
    ]
    return keys + [n for n in indexes if n.startswith(config.namespace)]


def test_prompt_text_never_becomes_a_key(
    config: RedisAgentConfig,
    capabilities: Capabilities,
    model: CountingModel,
    embedder: CallableEmbedder,
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")
    assert len(WORDS) == 6
    scope = make_scope({"model": "m"})
    # the core caches
    exact, semantic = ExactCache(config), SemanticCache(config, embedder=embedder, verifier=None)
    assert exact.update(PROMPT, scope, "an answer", filters={"tenant": "acme"})
    assert semantic.update(PROMPT, scope, "an answer")
    assert exact.lookup(PROMPT, scope, filters={"tenant": "acme"}) is not None
    assert semantic.lookup(PROMPT, scope) is not None
    # LangChain's caches
    generations = [Generation(text="an answer")]
    for cache in (RedisCache(config, name="lc"), RedisSemanticCache(embedder, config, name="lcs")):
        cache.update(PROMPT, "llm-string", generations)
        assert cache.lookup(PROMPT, "llm-string") == generations
    # histories, the LangChain one with semantic recall (the prompt is embedded)
    history = RedisChatMessageHistory("s1", config=config, embedder=embedder)
    history.add_messages([HumanMessage(PROMPT), AIMessage("an answer")])
    assert history.relevant(PROMPT, k=1)[0].content == PROMPT
    store = RedisChatStore(config=config)
    store.add_message("s2", ChatMessage(role="user", content=PROMPT))
    assert store.get_messages("s2")[0].content == PROMPT
    # a model call cached by the agent middleware, then served from it
    agent = create_agent(model, tools=[], middleware=[SemanticCacheMiddleware(embedder, config)])
    for _ in range(2):
        out = agent.invoke({"messages": [HumanMessage(PROMPT)]})
    assert out["messages"][-1].response_metadata[CACHE_MARK] == "exact"
    assert model.calls == 1

    names = _names(config)
    assert len(names) >= 10, names  # every role above wrote under the namespace
    for name in names:
        lowered = name.lower()
        assert PROMPT.lower() not in lowered, name
        assert not [w for w in WORDS if w in lowered], name
