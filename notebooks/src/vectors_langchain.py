# %% [markdown]
# # RAG with LangChain on Redis vector search
#
# `langchain_redis_agent.RedisVectorStore` keeps documents, metadata and embeddings in
# Redis (RediSearch HNSW index, `ef_runtime` 100 so recall@10 stays above 0.95). This
# notebook runs on the embedded Redis with the offline all-MiniLM-L6-v2 model and a local
# SmolLM2-135M served by llama.cpp: no network, no API key.

# %%
from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnablePassthrough
from langchain_openai import ChatOpenAI

from langchain_redis_agent import MiniLMEmbeddings, RedisVectorStore
from redis_agent_core import RedisAgentConfig
from redis_agent_core.local_llm import SYSTEM_PROMPT, LocalLLMServer
from redis_agent_core.vectors import F, FilterError

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
