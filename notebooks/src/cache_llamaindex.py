# %% [markdown]
# # LLM caching for LlamaIndex in Redis
#
# LlamaIndex has no LLM-cache hook, so `RedisCacheLLM` wraps any LLM: `chat`,
# `complete`, their streaming and async forms are served from Redis when possible and
# misses are stored. Entries are scoped by the inner LLM's class, model and parameters.
# `RedisKVStore` keeps docstores, index stores and the ingestion cache in Redis. Runs on
# the embedded Redis with `MockLLM`.

# %%
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.node_parser import SentenceSplitter

from llamaindex_redis_agent import RedisCacheLLM, RedisKVStore
from redis_agent_core import ExactCache, RedisAgentConfig, SemanticCache

config = RedisAgentConfig(namespace="nb-cache-li")  # no URL: the embedded server

# %% [markdown]
# ## A query engine with a cached `Settings.llm`

# %%
cache = ExactCache(config, name="li-exact")
cache.clear()
Settings.llm = RedisCacheLLM(MockLLM(max_tokens=12), cache)
Settings.embed_model = MockEmbedding(embed_dim=8)
engine = VectorStoreIndex.from_documents(
    [Document(text="Redis keeps its data in memory and persists it to disk.")]
).as_query_engine()
print(str(engine.query("Where does Redis keep data?"))[:60])
print(str(engine.query("Where does Redis keep data?"))[:60])
print(cache.stats())

# %% [markdown]
# ## Semantic cache and streaming
# A hit on a streaming call replays the stored text as a stream.

# %%
semantic = SemanticCache(config, name="li-semantic")
semantic.clear()
llm = RedisCacheLLM(MockLLM(max_tokens=8), semantic)
print(llm.chat([ChatMessage(role="user", content="What is the capital of France?")]))
stream = llm.stream_chat([ChatMessage(role="user", content="Which city is the capital of France?")])
print([chunk.delta for chunk in stream])
print(semantic.stats())

# %% [markdown]
# ## Ingestion cache in Redis
# A second pipeline (another process in real life) reuses the transformed nodes.

# %%
docs = [Document(text="Redis is an in-memory data store. " * 30, id_="d1")]
for run in range(2):
    pipeline = IngestionPipeline(
        transformations=[SentenceSplitter(chunk_size=64, chunk_overlap=8)],
        cache=IngestionCache(cache=RedisKVStore(config, name="ingest"), collection="demo"),
    )
    print(f"run {run}: {len(pipeline.run(documents=docs))} nodes")
print(
    len(RedisKVStore(config, name="ingest").get_all(collection="demo")), "cached transformation(s)"
)

# %% [markdown]
# ## Picture: a hit against a miss
# The lookup cost of the exact cache: 200 misses, then the same 200 prompts again as hits
# (one round trip each on the embedded Redis; a miss is what precedes a model call).

# %%
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

probe = ExactCache(config, name="nb-plot")
probe.clear()
miss_ms, hit_ms = [], []
for i in range(200):
    started = time.perf_counter()
    probe.lookup(f"question {i}", "model-a")
    miss_ms.append((time.perf_counter() - started) * 1000)
    probe.update(f"question {i}", "model-a", "an answer")
for i in range(200):
    started = time.perf_counter()
    assert probe.lookup(f"question {i}", "model-a") is not None
    hit_ms.append((time.perf_counter() - started) * 1000)
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist([miss_ms, hit_ms], bins=40, label=["miss", "hit"], color=["tab:gray", "tab:green"])
ax.set_xlabel("lookup latency (ms)")
ax.set_ylabel("lookups")
ax.legend()
fig.tight_layout()
plt.show()
print(probe.stats())
probe.clear()
