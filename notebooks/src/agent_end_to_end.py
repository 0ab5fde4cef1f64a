# %% [markdown]
# # An agent end to end on Redis
#
# The reference service of `redis_agent_service` in-process: a real local model
# (SmolLM2-135M through xllamacpp, offline), the embedded Redis, and every role on the
# way of one chat request: rate limit and token budget, semantic cache, history, RAG,
# the bus. Each user calls with an API key of their own (`Authorization: Bearer`): the
# service knows who is calling from the key, never from the request body.
# `redis-agent demo` runs the same flow with more users and the task queue.

# %%
import statistics

import matplotlib.pyplot as plt
from fastapi.testclient import TestClient

from redis_agent_core import RedisAgentConfig
from redis_agent_service.app import AgentService, ServiceSettings, create_app
from redis_agent_service.demo import load_documents
from redis_agent_service.llm import LLMEndpoint, build_chat_model
from redis_agent_service.local_llm import LocalLLMServer

llm_server = LocalLLMServer().start()  # 127.0.0.1, a free port, 1 thread
config = RedisAgentConfig(namespace="nb-e2e")  # no REDIS_URL: the embedded server
endpoint = LLMEndpoint(llm_server.base_url, "local", llm_server.model, local=True)
service = AgentService(
    build_chat_model(endpoint),
    config=config,
    # "ana" loads the documents; nobody else may (they are every user's prompt context)
    settings=ServiceSettings(use_queue=False, requests_per_minute=8, ingest_users=["ana"]),
    model_name=endpoint.model,
)
# in-process HTTP (the requests a client would send); entered once so that every
# request runs on the same event loop, like a real server
client = TestClient(create_app(service)).__enter__()
service.cache.clear()  # a clean slate when the notebook is re-run
service.embeddings.embed_query("warm up")  # load MiniLM before timing anything
# one API key per user (`redis-agent keys create USER` does the same from a shell)
keys = {user: service.keys.create(user) for user in ("ana", "ben", "cho", "dev", "eva")}


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys[user]}"}


print(llm_server)

# %% [markdown]
# Ingest the documents shipped with the package (inline here; the demo uses Celery).

# %%
r = client.post("/documents", json={"documents": load_documents()}, headers=auth("ana"))
print(r.json()["status"], r.json()["count"])

# %% [markdown]
# Five users ask overlapping questions. Repeats and paraphrases are served by the
# semantic cache; the rest go to the model with RAG context.

# %%
script = [
    ("ana", "What is a semantic cache?"),
    ("ben", "What is a semantic cache?"),
    ("cho", "What's a semantic cache?"),
    ("dev", "How do rate limits work?"),
    ("eva", "How do rate limits work?"),
    ("ana", "Where is chat history stored?"),
    ("ben", "Where is chat history stored?"),
]
rows = []
for user, message in script:
    body = client.post(
        "/chat",
        json={"session_id": f"{user}-{len(rows)}", "message": message},
        headers=auth(user),
    ).json()
    rows.append(body)
    kind = "cache" if body["cached"] else "LLM  "
    print(f"{kind} {body['latency_ms']:8.1f} ms  {user}: {message}")
    print(f"      -> {body['answer'][:100]}  sources={[s['source'] for s in body['sources']]}")

# %% [markdown]
# Latency of hits vs misses, request by request (log scale: a hit is two orders of
# magnitude shorter, most of it the embedding of the question on CPU; a miss is the
# model generating on one CPU thread).

# %%
hits = [r["latency_ms"] for r in rows if r["cached"]]
misses = [r["latency_ms"] for r in rows if not r["cached"]]
fig, ax = plt.subplots(figsize=(7, 3))
labels = [f"{user}: {message}" for user, message in script]
colours = ["tab:green" if r["cached"] else "tab:red" for r in rows]
ax.barh(range(len(rows)), [r["latency_ms"] for r in rows], color=colours)
ax.set_yticks(range(len(rows)), labels, fontsize=8)
ax.invert_yaxis()
ax.set_xscale("log")
ax.set_xlim(left=1)  # bars start at 1 ms
ax.set_xlabel("latency (ms, log scale)")
ax.set_title(
    f"cache hits (green) p50 {statistics.median(hits):.0f} ms vs "
    f"misses (red) p50 {statistics.median(misses):.0f} ms"
)
fig.tight_layout()
plt.show()
print(f"speed-up at the median: {statistics.median(misses) / statistics.median(hits):.0f}x")
saved = sum(r["usage"]["saved_tokens"] for r in rows)
print(f"tokens saved by the cache: {saved}, LLM calls saved: {len(hits)}")

# %% [markdown]
# A follow-up in the same session carries the history to the model; the session lives
# in Redis with a sliding TTL and belongs to its user: another key reading it gets 404.

# %%
client.post(
    "/chat", json={"session_id": "ana-0", "message": "Does it save tokens?"}, headers=auth("ana")
)
session = client.get("/sessions/ana-0", headers=auth("ana")).json()
print([(m["role"], m["content"][:60]) for m in session["messages"]])
print("ben reads ana-0:", client.get("/sessions/ana-0", headers=auth("ben")).json())

# %% [markdown]
# Limits: `ben` floods the service; past 8 requests a minute the service answers 429
# with `Retry-After`, before touching the cache or the model.

# %%
statuses = []
for i in range(8):
    r = client.post(
        "/chat",
        json={"session_id": f"flood-{i}", "message": "What is a semantic cache?"},
        headers=auth("ben"),
    )
    statuses.append((r.status_code, r.headers.get("retry-after")))
print(statuses)

# %% [markdown]
# Shared stats (kept in Redis, so every process of a deployment sees the same numbers)
# and the bus: one durable event per answered chat.

# %%
stats = (client.get("/stats")).json()
print(stats["cache"])
print(stats["process"])
print("bus events:", service.bus.topic_length(service.settings.events_topic))

# %%
client.__exit__(None, None, None)
llm_server.stop()
