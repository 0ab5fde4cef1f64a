# %% [markdown]
# # LLM caching for LangChain in Redis
#
# `RedisCache` (exact) and `RedisSemanticCache` plug into `set_llm_cache(...)` or a
# model's `cache=`. Entries are scoped by the model and its parameters, so a hit never
# returns another model's answer; the semantic cache embeds the conversation text with
# the offline all-MiniLM-L6-v2 and serves answers within a **cosine distance** of 0.1.
# Runs on the embedded Redis with fake chat models.

# %%
import time

from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_redis_agent import MiniLMEmbeddings, RedisCache, RedisSemanticCache
from redis_agent_core import RedisAgentConfig

config = RedisAgentConfig(namespace="nb-cache-lc")  # no URL: the embedded server

# %% [markdown]
# ## Exact cache with `set_llm_cache`
# The fake model has one answer only: the second call can only be a cache hit. The
# replayed message keeps its tool calls and usage, and LangChain marks it with
# `total_cost = 0`.

# %%
exact = RedisCache(config, ttl=3600)
exact.clear()
set_llm_cache(exact)
answer = AIMessage(
    "",
    tool_calls=[{"name": "weather", "args": {"city": "Oslo"}, "id": "call_1"}],
    usage_metadata={"input_tokens": 21, "output_tokens": 8, "total_tokens": 29},
)
model = GenericFakeChatModel(messages=iter([answer]))
first = model.invoke("Weather in Oslo?")
started = time.perf_counter()
second = model.invoke("Weather in Oslo?")
print(f"hit in {(time.perf_counter() - started) * 1000:.2f} ms")
print(second.tool_calls)
print(second.usage_metadata)
print(exact.stats())
set_llm_cache(None)

# %% [markdown]
# ## Semantic cache: paraphrases hit, other questions and other models miss

# %%
semantic = RedisSemanticCache(MiniLMEmbeddings(), config, distance_threshold=0.1)
semantic.clear()
llm = FakeListChatModel(responses=["Paris.", "Use lst[::-1].", "Berlin."], cache=semantic)
for question in [
    "What is the capital of France?",
    "Which city is the capital of France?",  # paraphrase: served from Redis
    "How do I reverse a list in Python?",
    "How can I reverse a Python list?",  # paraphrase
    "What is the capital of Germany?",  # close in wording, different answer: a miss
]:
    print(f"{question:40} -> {llm.invoke(question).content}")
print(semantic.stats())

# %% [markdown]
# Another model (or the same model with other parameters) has its own entries:

# %%
other = FakeListChatModel(responses=["(other model) Paris"], cache=semantic, sleep=0.0)
print(other.invoke("What is the capital of France?").content)

# %% [markdown]
# ## Guards against wrong answers
# Embeddings place "Cancel my subscription" and "Don't cancel my subscription" close
# together. The verifier checks each candidate before it is served, and the stats count
# the refusals by guard.

# %%
guarded = FakeListChatModel(responses=["Cancelled.", "Kept."], cache=semantic)
print(guarded.invoke("Cancel my subscription").content)
print(guarded.invoke("Don't cancel my subscription").content)
print(semantic.stats().rejections)

# %% [markdown]
# ## When Redis is down
# Lookups miss and updates are skipped (one warning per minute), so the model still
# answers; pass `on_error="raise"` to get `RedisUnavailableError` instead.

# %%
from redis_agent_core import EmbeddedRedis  # noqa: E402

with EmbeddedRedis() as server:
    fragile = RedisCache(RedisAgentConfig(url=server.url, retries=0))
    chat = FakeListChatModel(responses=["from the LLM", "from the LLM again"], cache=fragile)
    print(chat.invoke("hello").content)
    server.stop()
    print(chat.invoke("hello").content)

# %% [markdown]
# ## Picture: what the semantic cache compares
# The cosine distance from a stored question to later ones, against the threshold: a
# paraphrase falls under it and is served; another question stays above it.

# %%
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

stored = "What is the capital of France?"
asked = [
    "Which city is France's capital?",
    "What's the capital city of France?",
    "What is the capital of Germany?",
    "What is the population of France?",
    "How do I reverse a list in Python?",
]
vectors = np.array(MiniLMEmbeddings().embed_documents([stored, *asked]))
distances = 1 - vectors[1:] @ vectors[0]
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh(asked, distances, color=["tab:green" if d <= 0.1 else "tab:gray" for d in distances])
ax.axvline(0.1, color="tab:red", linestyle="--", label="distance_threshold = 0.1")
ax.invert_yaxis()
ax.set_xlabel(f"cosine distance to {stored!r}")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()
