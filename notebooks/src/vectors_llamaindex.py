# %% [markdown]
# # RAG with LlamaIndex on Redis vector search
#
# `llamaindex_redis_agent.RedisVectorStore` is a `BasePydanticVectorStore` on the
# pack's Redis core: `VectorStoreIndex` stores nodes there, every `FilterOperator` and
# `FilterCondition` (including NOT) compiles to one RediSearch query, and the default,
# MMR, hybrid and text-search modes run server-side. Offline: embedded Redis,
# all-MiniLM-L6-v2 and a local SmolLM2-135M.

# %%
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from llamaindex_redis_agent import MiniLMEmbedding, RedisVectorStore
from redis_agent_core import RedisAgentConfig
from redis_agent_service.local_llm import LocalLLMServer

config = RedisAgentConfig(namespace="nb-vectors-li")  # no URL: the embedded server
store = RedisVectorStore(
    "recipes", config=config, metadata_fields={"cuisine": "tag", "minutes": "numeric"}
)
store.index.drop()  # start clean when re-run

# %% [markdown]
# ## Index documents
# Node ids are kept exactly (no stripping), and `ref_doc_id` is always indexed so
# `delete_ref_doc` works.

# %%
recipes = [
    ("Carbonara: spaghetti, eggs, pecorino, guanciale and black pepper.", "italian", 20),
    ("Risotto needs arborio rice, stock added slowly and constant stirring.", "italian", 35),
    ("Pad thai: rice noodles, tamarind, fish sauce, peanuts and lime.", "thai", 25),
    ("Green curry simmers coconut milk with green curry paste and basil.", "thai", 30),
    ("Guacamole: mashed avocado, lime, onion, coriander and salt.", "mexican", 10),
    ("Chili con carne cooks beef, beans and chillies for two hours.", "mexican", 120),
]
docs = [
    Document(text=text, metadata={"cuisine": cuisine, "minutes": minutes}, id_=f"r{i}")
    for i, (text, cuisine, minutes) in enumerate(recipes)
]
embed_model = MiniLMEmbedding()
index = VectorStoreIndex.from_documents(
    docs, storage_context=StorageContext.from_defaults(vector_store=store), embed_model=embed_model
)
print(store.index.count(), "nodes in", store.index.index_name)

# %% [markdown]
# ## Filters: any operator, nested conditions, and a real NOT
# NOT means "none of these match" (the `llama-index-vector-stores-redis` store turns it
# into OR).

# %%
quick_not_thai = MetadataFilters(
    filters=[
        MetadataFilter(key="minutes", operator=FilterOperator.LTE, value=30),
        MetadataFilters(
            filters=[MetadataFilter(key="cuisine", value="thai")], condition=FilterCondition.NOT
        ),
    ]
)
retriever = index.as_retriever(similarity_top_k=5, filters=quick_not_thai)
for hit in retriever.retrieve("something with lime"):
    print(f"{hit.score:.3f}", hit.node.metadata, hit.node.get_content()[:50])

# %% [markdown]
# ## Query modes: hybrid (BM25 + vectors), text search, MMR

# %%
for mode in ("default", "hybrid", "text_search", "mmr"):
    r = index.as_retriever(similarity_top_k=2, vector_store_query_mode=mode, alpha=0.5)
    print(f"{mode:>11}:", [h.node.get_content()[:30] for h in r.retrieve("rice noodles")])
try:
    index.as_retriever(vector_store_query_mode="svm").retrieve("rice")
except Exception as exc:  # a mode the store cannot serve raises instead of being ignored
    print(type(exc).__name__, "-", exc)


# %% [markdown]
# ## A query engine with a local model
# A 20-line `CustomLLM` over the local llama.cpp server; SmolLM2-135M is tiny, what
# matters is that the right recipe reaches it.

# %%
llm_server = LocalLLMServer().start()


class LocalLLM(CustomLLM):
    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=llm_server.model, num_output=48)

    @llm_completion_callback()
    def complete(
        self, prompt: str, formatted: bool = False, **kwargs: object
    ) -> CompletionResponse:
        return CompletionResponse(text=llm_server.complete(prompt, max_tokens=48))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: object):
        yield self.complete(prompt)


engine = index.as_query_engine(llm=LocalLLM(), similarity_top_k=1)
response = engine.query("Which cheese goes into carbonara?")
print("source:", [n.node.ref_doc_id for n in response.source_nodes])
print("answer:", str(response).strip())

# %% [markdown]
# ## Deleting a source document removes its nodes

# %%
index.delete_ref_doc("r5")
print(store.index.count(), "nodes left")
llm_server.stop()
store.index.drop()

# %% [markdown]
# ## Picture: exact search as the index grows
# A FLAT index is exact and ingests fast; its search time grows with the number of
# vectors (HNSW's grows far slower, at a recall cost). 64-d random vectors.

# %%
import statistics  # noqa: E402
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from redis_agent_core.vectors import VectorIndex  # noqa: E402

rng = np.random.default_rng(3)
flat = VectorIndex("plot-flat", config=config, dims=64, algorithm="flat")
flat.drop()
sizes, search_ms, total = [], [], 0
for size in (1000, 2000, 4000, 8000):
    batch = rng.normal(size=(size - total, 64)).astype(np.float32)
    flat.add([f"doc {total + i}" for i in range(len(batch))],
             ids=[str(total + i) for i in range(len(batch))], vectors=batch)  # fmt: skip
    total = size
    timings = []
    for _ in range(30):
        query = rng.normal(size=64).astype(np.float32)
        started = time.perf_counter()
        flat.search(query, k=10)
        timings.append((time.perf_counter() - started) * 1000)
    sizes.append(size)
    search_ms.append(statistics.median(timings))
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(sizes, search_ms, marker="o")
ax.set_xlabel("vectors in the index")
ax.set_ylabel("k=10 search, median (ms)")
fig.tight_layout()
plt.show()
flat.drop()
