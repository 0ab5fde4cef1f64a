# %% [markdown]
# # Background work on Celery over Redis
#
# `redis_agent_core.tasks` runs the slow parts of an agent outside the request path, on
# Celery with Redis as broker and result store:
#
# - **ingestion**: documents embedded in batches by a worker and written to a vector
#   index, idempotent by id, progress (done / total / failed) readable by job id;
# - **batch LLM calls** through a model factory, the LLM cache and the rate limiter;
# - **signed webhooks** when a job finishes, retried with backoff, dead-lettered at the end.
#
# The worker below is a real `celery worker` process on the embedded Redis (its
# `unix://` socket becomes Celery's `redis+socket://` URL). It runs `queue_worker.py`
# (next to this notebook), which builds the app and **registers by name** what jobs may
# use: a task message carries names, never import paths, so whoever can write to the
# broker cannot make a worker run code it did not register.

# %%
import os

os.environ.setdefault("TQDM_DISABLE", "1")  # no model-loading progress bars in the output
import http.server
import subprocess
import sys
import threading
import time
import warnings

import orjson
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import VectorStoreQuery

from langchain_redis_agent import RedisVectorStore as LCVectorStore
from langchain_redis_agent.tasks import as_batch_model
from llamaindex_redis_agent import MiniLMEmbedding
from llamaindex_redis_agent import RedisVectorStore as LIVectorStore
from redis_agent_core import RedisAgentConfig, RedisUnavailableError
from redis_agent_core.tasks import (
    DestinationRefusedError,
    Webhook,
    create_app,
    dead_letters,
    get_batch_results,
    get_job,
    job_failures,
    submit_batch,
    submit_ingestion,
    submit_webhook,
    verify_signature,
    wait_for_job,
)
from redis_agent_core.vectors import VectorIndex

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm in a notebook
SECRET = "notebook-secret"
config = RedisAgentConfig(namespace="nb-queue")  # no REDIS_URL: the embedded server
client = config.get_client()
for key in client.scan_iter(match=config.keys.pattern()):  # a clean slate on re-runs
    client.delete(key)
# webhooks go to public addresses only; this notebook's receiver is on loopback
app = create_app(config, webhook_secret=SECRET, webhook_allow="127.0.0.1")

env = {
    **os.environ,
    "REDIS_URL": config.resolve_url(),
    "REDIS_AGENT_NAMESPACE": config.namespace,
    "REDIS_AGENT_WEBHOOK_SECRET": SECRET,
    "REDIS_AGENT_WEBHOOK_ALLOW": "127.0.0.1",  # the worker checks destinations again
    "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]),
}
print(open("queue_worker.py").read().split('"""\n', 1)[1].strip())  # its registrations
worker = subprocess.Popen(
    [sys.executable, "-m", "celery", "-A", "queue_worker", "worker",
     "--pool=solo", "-l", "warning", "--without-heartbeat", "--without-gossip", "--without-mingle"],
    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)  # fmt: skip
# one round trip through the worker: it is up
app.tasks["rap.noop"].apply_async(args=["ping"], ignore_result=False).get(timeout=60)
print("worker pid", worker.pid, "on", app.conf.broker_url)

# %% [markdown]
# A local webhook receiver: it checks the HMAC-SHA256 signature as a real receiver
# must, and answers with scripted statuses (200 unless told otherwise).

# %%
received: list[dict] = []
statuses: list[int] = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        received.append(
            {
                "valid_signature": verify_signature(SECRET, body, dict(self.headers)),
                "idempotency_key": self.headers["Idempotency-Key"],
                "body": orjson.loads(body),
            }
        )
        self.send_response(statuses.pop(0) if statuses else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
hook_url = f"http://127.0.0.1:{server.server_address[1]}/jobs"

# %% [markdown]
# ## Background ingestion with progress
# The worker rebuilds the index from `index.to_spec()`, embeds each batch with the
# default offline model (all-MiniLM-L6-v2) and writes it; a Lua script counts each
# document once. `get_job()` works from any process.

# %%
facts = [
    "Redis Streams keep messages until a consumer group acknowledges them.",
    "Pub/Sub delivers only to subscribers connected at publish time.",
    "HNSW indexes trade a little recall for much faster vector search.",
    "Celery with acks_late re-delivers tasks whose worker died mid-run.",
    "A semantic cache serves answers to paraphrased prompts.",
    "Sliding-window rate limits count requests in the last N seconds.",
    "Hash tags put related keys in the same Redis Cluster slot.",
    "Webhooks should be signed so receivers can trust them.",
]
items = [{"id": f"fact-{i}", "text": t, "metadata": {"n": i}} for i, t in enumerate(facts)]
index = VectorIndex("facts", config=config)
job_id = submit_ingestion(index, items, batch_size=2, webhook=hook_url, app=app)
seen = None
progress = []  # (seconds since submit, items done)
submitted = time.perf_counter()
while True:  # the worker's first batch includes loading the model (a few seconds)
    job = get_job(job_id, config=config)
    progress.append((time.perf_counter() - submitted, job.done))
    if (job.status, job.done) != seen:
        seen = (job.status, job.done)
        print(f"{job.status:9} {job.done}/{job.total} done, {job.failed} failed")
    if job.finished:
        break
    time.sleep(0.1)
for hit in index.search("which messages survive a crash?", k=2):
    print(f"{hit.score:.3f}  {hit.text}")

# %% [markdown]
# The job's progress as `get_job()` saw it (batches of two; the first waits for the
# worker to load the model):

# %%
import matplotlib.pyplot as plt  # noqa: E402

fig, ax = plt.subplots(figsize=(7, 2.8))
ax.step([t for t, _ in progress], [d for _, d in progress], where="post")
ax.axhline(job.total, color="tab:gray", linestyle="--", label=f"total {job.total}")
ax.set_xlabel("seconds since submit")
ax.set_ylabel("items done")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The completion webhook arrived signed, with an idempotency key stable across retries:

# %%
deadline = time.monotonic() + 10
while not received and time.monotonic() < deadline:
    time.sleep(0.05)
print(received[-1]["valid_signature"], received[-1]["idempotency_key"])
print({k: received[-1]["body"][k] for k in ("event", "status", "done", "total")})

# %% [markdown]
# ### From LangChain and LlamaIndex
# The vector stores queue their documents with the same call. LangChain's
# `RedisVectorStore.enqueue_add_documents(docs, ids=...)` returns a job id; this store
# uses the default `MiniLMEmbeddings`, which every worker has built in. With any other
# `Embeddings`, register the same model in the worker:
# `register_embeddings("my-embedder", MyEmbeddings())`, then
# `enqueue_add_documents(docs, embedder="my-embedder")` (without it the job fails,
# naming the missing embedder).

# %%
lc_store = LCVectorStore(index_name="lc-notes", config=config)
notes = {
    "streams": "Consumer groups let several workers share one stream.",
    "events": "Keyspace notifications announce expired keys.",
    "persistence": "RDB snapshots and the AOF keep data across restarts.",
}
docs = [Document(text, metadata={"topic": topic}) for topic, text in notes.items()]
job_id = lc_store.enqueue_add_documents(docs, ids=["lc-1", "lc-2", "lc-3"], app=app)
job = wait_for_job(job_id, config=config, timeout=30)
print(job.status, f"{job.done}/{job.total}")
(best,) = lc_store.similarity_search("how do I survive a reboot?", k=1)
print(best.id, best.metadata, best.page_content)

# %% [markdown]
# LlamaIndex's `RedisVectorStore.enqueue_add(nodes)` does the same with `TextNode`s; the
# worker embeds those without an embedding with the store's model (MiniLM here).

# %%
li_store = LIVectorStore("li-notes", config=config)
nodes = [
    TextNode(id_="li-1", text="Lua scripts run atomically on the server."),
    TextNode(id_="li-2", text="MULTI/EXEC queues commands and runs them together."),
    TextNode(id_="li-3", text="Bloom filters answer 'maybe present' in little memory."),
]
job = wait_for_job(li_store.enqueue_add(nodes, app=app), config=config, timeout=30)
print(job.status, f"{job.done}/{job.total}")
query = MiniLMEmbedding().get_query_embedding("probabilistic set membership")
result = li_store.query(VectorStoreQuery(query_embedding=query, similarity_top_k=1))
print(result.ids[0], f"{result.similarities[0]:.3f}", result.nodes[0].get_content())

# %% [markdown]
# Nodes that carry their own `embedding` (from an ingestion pipeline, say) travel with
# it and are stored as given: the worker embeds nothing. Here the vectors are 3-d, which
# no model could have made; the store is told so with `embedder_name="given"`.

# %%
own = LIVectorStore("li-own", config=config, dims=3, algorithm="flat", embedder_name="given")
nodes = [
    TextNode(id_="red", text="red", embedding=[1.0, 0.0, 0.0]),
    TextNode(id_="green", text="green", embedding=[0.0, 1.0, 0.0]),
    TextNode(id_="blue", text="blue", embedding=[0.0, 0.0, 1.0]),
]
job = wait_for_job(own.enqueue_add(nodes, app=app), config=config, timeout=30)
print(job.status, f"{job.done}/{job.total}, {job.failed} failed")
result = own.query(VectorStoreQuery(query_embedding=[0.1, 0.9, 0.2], similarity_top_k=1))
print(result.ids)

# %% [markdown]
# ## Batch LLM calls through the cache
# The model is a name the worker registered: `queue_worker.py` registered LlamaIndex's
# `MockLLM` (it echoes the prompt) as `"mock-llm"` with
# `llamaindex_redis_agent.tasks.register_llm`; register a real LLM (e.g.
# `register_llm("gpt-mini", lambda: OpenAI(model="gpt-4o-mini"))`) for real answers.
# The second batch is served from the pack's exact LLM cache.

# %%
prompts = ["Summarise Redis Streams.", "Summarise Pub/Sub.", "Summarise HNSW."]
first = submit_batch(prompts, model="mock-llm", app=app)
wait_for_job(first, config=config, timeout=30)
again = submit_batch(prompts, model="mock-llm", app=app)
wait_for_job(again, config=config, timeout=30)
results = zip(
    get_batch_results(first, config=config), get_batch_results(again, config=config), strict=True
)
for a, b in results:
    print(f"{a['text']!r:32} cached: {a['cached']} then {b['cached']}")

# %% [markdown]
# The LangChain adapter does the same for chat models: `register_chat_model(name, model)`
# wraps the model with `as_batch_model`, which turns it into the `prompt -> (text, usage)`
# callable the worker calls. `FakeListChatModel` answers from its list; a real one
# (`ChatOpenAI`, ...) also reports token usage for the rate limiter.

# %%
print(as_batch_model(FakeListChatModel(responses=["pong"]))("ping"))  # what the worker calls
questions = ["Name a Redis data type.", "Name another one."]
lc_batch = submit_batch(questions, model="fake-chat", cache=False, app=app)  # fake: no cache
wait_for_job(lc_batch, config=config, timeout=30)
for question, r in zip(questions, get_batch_results(lc_batch, config=config), strict=True):
    print(f"{question:25} -> {r['text']}")

# %% [markdown]
# A name the worker did not register fails the job with the reason, and the worker
# imports nothing: this is what a message naming `os:system` gets.

# %%
bad = submit_batch(["hello"], model="os:system", app=app)
print(wait_for_job(bad, config=config, timeout=30).status)
print(job_failures(bad, config=config)["0"])

# %% [markdown]
# Webhook destinations are checked when submitted and again by the worker before each
# try, for every address the host resolves to: loopback, private, link-local (cloud
# metadata), multicast, reserved and unspecified addresses are refused unless the
# allowlist names them (here only 127.0.0.1 is allowed).

# %%
for url in ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.5/hook", "http://[::1]/"]:
    try:
        submit_webhook(url, {"event": "nope"}, app=app)
    except DestinationRefusedError as exc:
        print(str(exc).split(". ")[0])

# %% [markdown]
# ## Retries and dead letters
# 5xx and timeouts are retried with exponential backoff (Celery's own retry); a 4xx is
# not. After the last try the delivery lands in the dead-letter stream with its error.

# %%
statuses[:] = [503, 502]  # two failures, then 200
hook = Webhook(hook_url, backoff=0.1)  # waits of ~0.1 s, 0.2 s... (default: 1 s, 2 s...)
submit_webhook(hook, {"event": "retry-demo"}, app=app)
deadline = time.monotonic() + 10
while len([r for r in received if r["body"].get("event") == "retry-demo"]) < 3:
    time.sleep(0.05)
    assert time.monotonic() < deadline
print("tries of retry-demo:", [r["idempotency_key"][:8] for r in received[-3:]])

statuses[:] = [410]  # gone: no retry
key = submit_webhook(hook, {"event": "gone-demo"}, app=app)
deadline = time.monotonic() + 10
while not any(d["idempotency_key"] == key for d in dead_letters(config=config)):
    time.sleep(0.05)
    assert time.monotonic() < deadline
dead = next(d for d in dead_letters(config=config) if d["idempotency_key"] == key)
print({k: dead[k] for k in ("status", "attempts", "error", "payload")})

# %% [markdown]
# ## When Redis is down
# Submitting and reading progress raise `RedisUnavailableError` naming the server; a
# worker that loses Redis mid-task leaves the message unacked, and Redis redelivers it
# after the visibility timeout once it is back (tasks are idempotent).

# %%
down = RedisAgentConfig(url="redis://127.0.0.1:1", retries=0)
try:
    get_job(job_id, config=down)
except RedisUnavailableError as exc:
    print(type(exc).__name__, "-", str(exc)[:120])

# %%
worker.terminate()  # warm shutdown: the worker finishes its task first
worker.wait(30)
server.shutdown()
print("worker exit code", worker.returncode)
