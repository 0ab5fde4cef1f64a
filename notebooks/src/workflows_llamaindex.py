# %% [markdown]
# # Durable LlamaIndex workflows in Redis
#
# A LlamaIndex workflow keeps its run in a `Context`. This notebook keeps it in Redis
# (the embedded server here), so a run paused for a human in one process is finished by
# another:
#
# - `RedisContextStore` saves a workflow's `Context` by id and restores it anywhere;
# - `RedisWorkflowStore` is the workflows server's handler store: handlers, status,
#   event logs and state live in Redis, so a served run survives a server restart.
#
# Everything is JSON; the serializer rebuilds only the classes it is given.

# %%
import asyncio
import subprocess
import sys
import textwrap

import httpx
from llama_agents.server import HandlerQuery, WorkflowServer

from llamaindex_redis_agent.workflows import RedisContextStore, RedisWorkflowStore
from redis_agent_core import RedisAgentConfig

config = RedisAgentConfig(namespace="nb-workflows")  # no URL: the embedded server
URL = config.resolve_url()  # the child processes below connect to the same server
for key in config.get_client().scan_iter(match="nb-workflows:*"):
    config.get_client().delete(key)  # start clean when re-run

# The workflow: it drafts, asks a human, and finishes with the answer. The same code
# runs here and in the child processes.
WORKFLOW = """
from workflows import Context, Workflow, step
from workflows.events import HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent

class AskEvent(InputRequiredEvent):
    question: str

class AnswerEvent(HumanResponseEvent):
    answer: str

class Expense(Workflow):
    @step
    async def ask(self, ctx: Context, ev: StartEvent) -> AskEvent:
        await ctx.store.set("claim", ev.get("claim"))
        return AskEvent(question=f"approve {ev.get('claim')}?")

    @step
    async def decide(self, ctx: Context, ev: AnswerEvent) -> StopEvent:
        claim = await ctx.store.get("claim")
        return StopEvent(result=f"{claim}: {ev.answer}")
"""
defined: dict = {"__name__": "__main__"}  # the same class names as in the children
exec(WORKFLOW, defined)
AskEvent, AnswerEvent, Expense = defined["AskEvent"], defined["AnswerEvent"], defined["Expense"]


def run_child(body: str) -> None:
    """Run ``body`` (async code) in a new Python process with the workflow defined."""
    script = (
        WORKFLOW
        + textwrap.dedent(
            f"""
        import asyncio
        from redis_agent_core import RedisAgentConfig
        config = RedisAgentConfig(url={URL!r}, namespace="nb-workflows")
        async def main():
        """
        )
        + textwrap.indent(textwrap.dedent(body), "    ")
        + "\nasyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr[-2000:])


# %% [markdown]
# ## Pause here, save the Context
# The run stops at the question; its `Context` goes to Redis under an id of our choosing.

# %%
contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])

handler = Expense(timeout=30).run(claim="taxi 42 EUR")
async for event in handler.stream_events():
    if isinstance(event, AskEvent):
        print("asked:", event.question)
        await handler.ctx.store.set("asked", event)  # an event of ours in the state
        break
await contexts.asave("expense-42", handler.ctx)
await handler.cancel_run()
print("saved bytes:", len(config.get_client().get("nb-workflows:kv:contexts:ctx:expense-42")))

# %% [markdown]
# ## ... resume in another process
# A new process loads the context, answers the question and gets the result.

# %%
run_child(
    """
    from llamaindex_redis_agent.workflows import RedisContextStore
    contexts = RedisContextStore(config, allowed_types=[AskEvent, AnswerEvent])
    workflow = Expense(timeout=30)
    ctx = await contexts.aload("expense-42", workflow)
    print("restored state:", await ctx.store.get("asked"))
    handler = workflow.run(ctx=ctx)
    handler.ctx.send_event(AnswerEvent(answer="approved"))
    print("result in the second process:", await handler)
    """
)

# %% [markdown]
# A reader that does not allow a class a snapshot names refuses it before rebuilding
# anything (and never imports it):

# %%
try:
    RedisContextStore(config).load("expense-42", Expense())  # allows no class of ours
except ValueError as exc:
    print("refused:", str(exc)[:70], "...")

# %% [markdown]
# ## A served workflow survives a server restart
# `WorkflowServer(workflow_store=RedisWorkflowStore(...))`: the first server starts a run
# and goes away while the run waits for its human.


# %%
def make_server() -> WorkflowServer:
    server = WorkflowServer(workflow_store=RedisWorkflowStore(config, name="expenses"))
    server.add_workflow("expense", Expense(timeout=30))
    return server


first = make_server()
async with first.contextmanager():
    transport = httpx.ASGITransport(app=first.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
        started = await client.post(
            "/workflows/expense/run-nowait", json={"start_event": {"claim": "hotel 180 EUR"}}
        )
        handler_id, run_id = started.json()["handler_id"], started.json()["run_id"]
        store = RedisWorkflowStore(config, name="expenses")
        for _ in range(200):  # until the run has asked its question
            if any(e.event.type == "AskEvent" for e in await store.query_events(run_id)):
                break
            await asyncio.sleep(0.05)
(stored,) = await store.query(HandlerQuery(handler_id_in=[handler_id]))
print("first server stopped; handler", handler_id, "is", stored.status)

# %% [markdown]
# A second server, in another process, finds the handler in Redis, takes the answer and
# finishes the run.

# %%
run_child(
    f"""
    import httpx
    from llama_agents.server import WorkflowServer
    from llamaindex_redis_agent.workflows import RedisWorkflowStore
    server = WorkflowServer(workflow_store=RedisWorkflowStore(config, name="expenses"))
    server.add_workflow("expense", Expense(timeout=30))
    async with server.contextmanager():
        transport = httpx.ASGITransport(app=server.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://server") as client:
            handlers = (await client.get("/handlers")).json()["handlers"]
            print("handlers found after the restart:", [h["handler_id"] for h in handlers])
            event = {{"type": "AnswerEvent", "value": {{"answer": "approved"}}}}
            await client.post("/events/{handler_id}", json={{"event": event}})
            for _ in range(200):
                handler = (await client.get("/handlers/{handler_id}")).json()
                if handler["status"] != "running":
                    break
                await asyncio.sleep(0.05)
            print(handler["status"], "->", handler["result"]["value"]["result"])
    """
)

# %% [markdown]
# ## What is in Redis
# One hash tag per store (`{expenses}`): handlers, the run index, each run's event and
# tick logs and its state; the saved context is one string.

# %%
for key in sorted(k.decode() for k in config.get_client().scan_iter(match="nb-workflows:*")):
    print(key)

# %% [markdown]
# ## Picture: where a durable workflow's bytes go
# Memory per kind of key (what follows the store's hash tag): the handler records and
# run index stay small; the event and tick logs grow with each run until `finished_ttl`
# expires them.

# %%
from collections import Counter  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

redis_client = config.get_client()
by_kind: Counter[str] = Counter()
for key in redis_client.scan_iter(match="nb-workflows:*"):
    name = key.decode()
    kind = name.split("}")[-1].strip(":").split(":")[0] if "}" in name else "context"
    by_kind[kind or "store"] += redis_client.memory_usage(key) or 0
fig, ax = plt.subplots(figsize=(7, 2.8))
kinds = sorted(by_kind, key=by_kind.get, reverse=True)
ax.barh(kinds, [by_kind[k] / 1024 for k in kinds], color="tab:purple")
ax.invert_yaxis()
ax.set_xlabel("memory (KiB)")
fig.tight_layout()
plt.show()
