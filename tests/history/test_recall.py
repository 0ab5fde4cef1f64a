"""Optional semantic recall: past messages of a session most similar to a query."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_redis_agent import RedisChatMessageHistory
from llamaindex_redis_agent import RedisChatStore
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import Embedder
from redis_agent_core.errors import CapabilityError, ConfigError
from redis_agent_core.history import SessionStore
from tests.asymmetric import DOCS, QUESTION, CoreAsym, LangChainAsym, LlamaIndexAsym
from tests.conftest import skip_unless

pytestmark = pytest.mark.slow

TALK = [
    "My sister's wedding is in Lisbon next June.",
    "I switched my car to winter tyres yesterday.",
    "For dinner I baked a lemon tart with a buttery crust.",
    "The quarterly report is due on Friday.",
]


def test_langchain_recall_finds_the_related_message(
    config: RedisAgentConfig, capabilities: Capabilities, minilm: Embedder
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    history = RedisChatMessageHistory("r", config=config, embedder=minilm, max_messages=2)
    history.add_messages([HumanMessage(t) for t in TALK])
    other = RedisChatMessageHistory("other", config=config, embedder=minilm)
    other.add_messages([AIMessage("A recipe for lemon tart: flour, butter, lemons.")])
    # trimmed from the active window, still recalled; never from another session
    assert len(history.messages) == 2
    hits = history.relevant("what dessert did I cook?", k=2)
    assert hits[0].content == TALK[2]
    assert all(h.content in TALK for h in hits)
    history.clear()
    assert history.relevant("what dessert did I cook?") == []
    assert other.relevant("dessert", k=1)[0].content.startswith("A recipe")


async def test_llamaindex_recall_async(
    aconfig: RedisAgentConfig, capabilities: Capabilities, minilm: Embedder
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    store = RedisChatStore(aconfig, embedder=minilm)
    await store.aadd_messages("r", [ChatMessage(content=t) for t in TALK])
    hits = await store.arelevant("r", "when is the family celebration in Portugal?", k=1)
    assert [h.content for h in hits] == [TALK[0]]


def test_recall_within_distance(
    config: RedisAgentConfig, capabilities: Capabilities, minilm: Embedder
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    store = SessionStore(config, embedder=minilm, ttl=300)
    store.append("s", [b'{"i":%d}' % i for i in range(len(TALK))], texts=TALK)
    close = store.relevant("s", "changing tyres on my car", k=4, max_distance=0.5)
    assert [r.payload for r in close] == [b'{"i":1}']
    assert close[0].distance < 0.5


def test_recall_on_cluster_fails_clearly(
    cluster_config: RedisAgentConfig, minilm: Embedder
) -> None:
    store = SessionStore(cluster_config, embedder=minilm)
    with pytest.raises(CapabilityError, match="semantic recall"):
        store.append("s", [b"{}"], texts=["hello"])
    assert store.read("s") == []  # nothing half-written


# Models whose query form differs (E5, BGE, Cohere, Voyage): the messages are stored in
# the document form and the query is embedded in the query form. Embedded as a
# document, QUESTION would recall the cooking message instead.


async def test_recall_embeds_the_query_in_its_query_form(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    model = CoreAsym()
    store = SessionStore(aconfig, embedder=model)
    store.append("s", [k.encode() for k in DOCS], texts=list(DOCS.values()))
    stored = model.calls["embed"]
    assert [r.payload for r in store.relevant("s", QUESTION, k=1)] == [b"rd"]
    assert [r.payload for r in await store.arelevant("s", QUESTION, k=1)] == [b"rd"]
    assert model.calls["embed"] == stored and model.calls["embed_query"] == 2


async def test_langchain_recall_uses_embed_query(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    model = LangChainAsym()
    history = RedisChatMessageHistory("q", config=aconfig, embedder=model)
    history.add_messages([HumanMessage(t) for t in DOCS.values()])
    stored = model.calls["embed_documents"]
    assert [m.content for m in history.relevant(QUESTION, k=1)] == [DOCS["rd"]]
    assert [m.content for m in await history.arelevant(QUESTION, k=1)] == [DOCS["rd"]]
    assert model.calls["embed_documents"] == stored and model.calls["embed_query"] == 2


async def test_llamaindex_recall_uses_the_query_embedding(
    aconfig: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    store = RedisChatStore(aconfig, embedder=LlamaIndexAsym(model_name="asym"))
    store.add_messages("q", [ChatMessage(content=t) for t in DOCS.values()])
    assert [m.content for m in store.relevant("q", QUESTION, k=1)] == [DOCS["rd"]]
    assert [m.content for m in await store.arelevant("q", QUESTION, k=1)] == [DOCS["rd"]]


@pytest.mark.parametrize(
    "args",
    [(5, 1, None), ("q", True, None), ("q", 0, None), ("q", 2.5, None), ("q", 1, float("nan")),
     ("q", 1, -0.1), ("q", 1, "0.5")],
)  # fmt: skip
async def test_recall_arguments_are_checked_before_embedding(
    aconfig: RedisAgentConfig, capabilities: Capabilities, args: tuple[object, object, object]
) -> None:
    # k=True reached redisvl (a raw RedisSearchError) and a non-str query the model
    skip_unless(capabilities.search, "semantic recall needs the Query Engine")
    model = CoreAsym()
    store = SessionStore(aconfig, embedder=model)
    store.append("s", [k.encode() for k in DOCS], texts=list(DOCS.values()))
    query, k, distance = args
    with pytest.raises(ConfigError):
        store.relevant("s", query, k, max_distance=distance)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        await store.arelevant("s", query, k, max_distance=distance)  # type: ignore[arg-type]
    assert model.calls["embed_query"] == 0
