# %% [markdown]
# # RAG with LangChain on Redis vector search
#
# `langchain_redis_agent.RedisVectorStore` keeps documents, metadata and embeddings in
# Redis (RediSearch index, `algorithm="auto"`: exact FLAT while small, HNSW tuned to
# recall 0.95 once it answers faster). This notebook runs on the embedded Redis with the
# offline all-MiniLM-L6-v2 model and a local SmolLM2-135M served by llama.cpp: no
# network, no API key.

# %%
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_openai import ChatOpenAI

from langchain_redis_agent import MiniLMEmbeddings, RedisVectorStore
from redis_agent_core import RedisAgentConfig
from redis_agent_core.vectors import F, FilterError
from redis_agent_service.local_llm import SYSTEM_PROMPT, LocalLLMServer

config = RedisAgentConfig(namespace="nb-vectors-lc")  # no URL: the embedded server
store = RedisVectorStore(
    MiniLMEmbeddings(),
    index_name="handbook",
    config=config,
    metadata_fields={"team": "tag", "year": "numeric"},  # filterable metadata
)
store.index.drop()  # start clean when re-run

# %% [markdown]
# ## A small handbook, with metadata
# Ids are kept exactly as given; all metadata round-trips (only declared keys are
# indexed for filtering).

# %%
handbook = [
    ("Expense reports are due on the 5th of each month.", "finance", 2024),
    ("Travel must be booked through the travel desk two weeks ahead.", "finance", 2023),
    ("Production deploys happen on Tuesdays and Thursdays after 10:00.", "platform", 2024),
    ("Every service exposes /health and /metrics endpoints.", "platform", 2022),
    ("On-call engineers hand over at 09:00 on Mondays.", "platform", 2024),
    ("New hires get a laptop and a buddy in their first week.", "people", 2023),
    ("Parental leave is 16 weeks at full pay.", "people", 2024),
    ("The office closes at 20:00; badges stop working after that.", "facilities", 2021),
]
docs = [
    Document(page_content=text, metadata={"team": team, "year": year}, id=f"hb-{i}")
    for i, (text, team, year) in enumerate(handbook)
]
print(store.add_documents(docs))

# %% [markdown]
# ## Search, with relevance scores in [0, 1] and filters
# Filters take a dict (`{"team": "platform"}`) or the core builder (`F("year") >= 2024`).

# %%
for doc, score in store.similarity_search_with_relevance_scores(
    "when can I deploy to production?", k=3
):
    print(f"{score:.3f}  {doc.id}  {doc.page_content}")
print()
for doc in store.similarity_search(
    "rules", k=3, filter={"team": "platform", "year": {"$gte": 2024}}
):
    print(doc.id, doc.metadata, doc.page_content)
print()
for doc in store.similarity_search("leave", k=2, filter=~(F("team") == "people")):
    print(doc.id, doc.metadata["team"], doc.page_content)

# %% [markdown]
# ## Retrievers: similarity, score threshold (a server-side range query) and MMR

# %%
question = "What happens on Mondays?"
for search_type, kwargs in [
    ("similarity", {"k": 2}),
    ("similarity_score_threshold", {"k": 5, "score_threshold": 0.7}),
    ("mmr", {"k": 3, "fetch_k": 8, "lambda_mult": 0.5}),
]:
    retriever = store.as_retriever(search_type=search_type, search_kwargs=kwargs)
    print(f"{search_type:>27}:", [d.id for d in retriever.invoke(question)])

# %% [markdown]
# ## Hybrid search: BM25 on the text plus vector similarity (one FT.AGGREGATE)

# %%
for doc, score in store.hybrid_search("badges 20:00", k=2, alpha=0.5):
    print(f"{score:.3f}  {doc.page_content}")

# %% [markdown]
# ## An LCEL RAG chain with a local model
# SmolLM2-135M is tiny; what matters here is that the retriever hands it the right
# passage.

# %%
llm_server = LocalLLMServer().start()
llm = ChatOpenAI(
    base_url=llm_server.base_url,
    api_key="local",
    model=llm_server.model,
    max_tokens=40,
    temperature=0,
)
prompt = ChatPromptTemplate.from_messages(
    [
        ("system", SYSTEM_PROMPT),
        ("human", "Use this context:\n{context}\n\nQuestion: {question}"),
    ]
)


def format_docs(found: list[Document]) -> str:
    print("retrieved:", [d.id for d in found])
    return "\n".join(d.page_content for d in found)


chain = (
    {
        "context": store.as_retriever(search_kwargs={"k": 1}) | format_docs,
        "question": RunnablePassthrough(),
    }
    | prompt
    | llm
    | StrOutputParser()
)
print(chain.invoke("When are expense reports due?"))

# %% [markdown]
# ## Mistakes fail loudly
# A filter on a key that is not indexed raises (other stores silently return nothing),
# and filter values are escaped: a "tenant" full of query syntax matches only itself.

# %%
try:
    store.similarity_search("laptop", filter={"department": "people"})
except FilterError as exc:
    print("FilterError:", exc)
store.add_texts(["secret"], [{"team": "x} | @team:{finance"}], ids=["evil"])
print(
    [d.id for d in store.similarity_search("secret", k=5, filter={"team": "x} | @team:{finance"})]
)

# %%
llm_server.stop()
store.index.drop()

# %% [markdown]
# ## Picture: recall against `ef_runtime`
# HNSW trades recall for speed. On 2,000 random 64-d unit vectors (a hard case: no
# clusters) the recall@10 of the approximate search, measured against exact search,
# climbs with `ef_runtime`; clustered embeddings reach it much earlier. Measure it on your
# own data before trusting a default.

# %%
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from redis_agent_core.vectors import VectorIndex  # noqa: E402

rng = np.random.default_rng(7)
data = rng.normal(size=(2000, 64)).astype(np.float32)
data /= np.linalg.norm(data, axis=1, keepdims=True)
hnsw = VectorIndex("plot-recall", config=config, dims=64, algorithm="hnsw")
hnsw.drop()
hnsw.add([f"doc {i}" for i in range(len(data))], ids=[str(i) for i in range(len(data))],
         vectors=data)  # fmt: skip
queries = data[rng.choice(len(data), 50, replace=False)] + rng.normal(scale=0.3, size=(50, 64))
queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
truth = [set(map(str, np.argsort(-(data @ q))[:10])) for q in queries]
efs = [10, 20, 50, 100, 200, 400]
recall = []
for ef in efs:
    found = [{h.id for h in hnsw.search(q, k=10, ef_runtime=ef)} for q in queries]
    recall.append(np.mean([len(f & t) / 10 for f, t in zip(found, truth, strict=True)]))
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(efs, recall, marker="o")
ax.axhline(0.95, color="tab:red", linestyle="--", label="0.95")
ax.set_xscale("log")
ax.set_xlabel("ef_runtime")
ax.set_ylabel("recall@10")
ax.set_ylim(0, 1.02)
ax.legend()
fig.tight_layout()
plt.show()
hnsw.drop()
