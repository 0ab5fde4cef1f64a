# %% [markdown]
# # Agent state for LangGraph and LangChain v1 agents in Redis
#
# `RedisSaver` is a LangGraph checkpointer on plain Redis (hashes, sorted sets, sets: no
# RedisJSON or RediSearch), so it runs on any Redis 6.2+, managed Redis, Valkey or a
# cluster. This notebook runs on the embedded Redis with a fake chat model: an agent built
# with `create_agent` remembers a conversation **across a process restart**, and a graph
# paused on `interrupt()` is resumed by another process.

# %%
import json
import subprocess
import sys
import textwrap

from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from langchain_redis_agent.checkpoint import RedisSaver, ShallowRedisSaver
from redis_agent_core import RedisAgentConfig

config = RedisAgentConfig(namespace="nb-agent-state")  # no URL: the embedded server
URL = config.resolve_url()  # the child processes below connect to the same server
for thread in ("ada", "order-1"):
    RedisSaver(config).delete_thread(thread)  # start clean when re-run

# %% [markdown]
# ## An agent that remembers
# The checkpointer keeps the thread's messages; each `invoke` on the same `thread_id`
# continues the conversation.

# %%
model = FakeListChatModel(responses=["Nice to meet you, Ada."])
agent = create_agent(model, tools=[], checkpointer=RedisSaver(config))
thread = {"configurable": {"thread_id": "ada"}}
out = agent.invoke({"messages": [("user", "Hi, I'm Ada.")]}, thread)
for m in out["messages"]:
    print(f"{m.type:>5}: {m.content}")

# %% [markdown]
# ## ... across a process restart
# A new Python process builds a new agent and a new saver: only Redis carries the state.
# Its model answers with what it was shown, so we can see the earlier turn arrive.

# %%
child = textwrap.dedent(
    f"""
    import json
    from typing import Any
    from langchain.agents import create_agent
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_redis_agent.checkpoint import RedisSaver
    from redis_agent_core import RedisAgentConfig

    class Recall(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "recall"

        def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any):
            first = messages[0].content
            reply = AIMessage(f"I was shown {{len(messages)}} messages; the first: {{first!r}}")
            return ChatResult(generations=[ChatGeneration(message=reply)])

    saver = RedisSaver(RedisAgentConfig(url={URL!r}, namespace="nb-agent-state"))
    agent = create_agent(Recall(), tools=[], checkpointer=saver)
    out = agent.invoke({{"messages": [("user", "What's my name?")]}},
                       {{"configurable": {{"thread_id": "ada"}}}})
    print(json.dumps([[m.type, m.content] for m in out["messages"]]))
    """
)
result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
for kind, text in json.loads(result.stdout.splitlines()[-1]):
    print(f"{kind:>5}: {text}")

# %% [markdown]
# ## Human in the loop: pause in one process, resume in another
# `interrupt()` stops the graph and the checkpoint records why; `Command(resume=...)`
# continues it, here from a second process.

# %%
graph_code = textwrap.dedent(
    """
    import operator
    from typing import Annotated, Any, TypedDict
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import interrupt

    class Order(TypedDict):
        items: Annotated[list[str], operator.add]
        approved: bool

    def draft(state: Order) -> dict[str, Any]:
        return {"items": ["2 x keyboard"]}

    def review(state: Order) -> dict[str, Any]:
        answer = interrupt({"approve": state["items"]})
        return {"approved": answer == "yes", "items": [f"reviewed: {answer}"]}

    def build(checkpointer: Any) -> Any:
        g = StateGraph(Order)
        g.add_node("draft", draft)
        g.add_node("review", review)
        g.add_edge(START, "draft")
        g.add_edge("draft", "review")
        g.add_edge("review", END)
        return g.compile(checkpointer=checkpointer)
    """
)
exec(graph_code)
order = {"configurable": {"thread_id": "order-1"}}
paused = build(RedisSaver(config)).invoke({"items": [], "approved": False}, order)  # noqa: F821
print("paused on:", paused["__interrupt__"][0].value)

resume = graph_code + textwrap.dedent(
    f"""
    import json
    from langgraph.types import Command
    from langchain_redis_agent.checkpoint import RedisSaver
    from redis_agent_core import RedisAgentConfig

    graph = build(RedisSaver(RedisAgentConfig(url={URL!r}, namespace="nb-agent-state")))
    thread = {{"configurable": {{"thread_id": "order-1"}}}}
    print(json.dumps({{"waiting at": graph.get_state(thread).next,
                      "result": graph.invoke(Command(resume="yes"), thread)}}))
    """
)
print(subprocess.run([sys.executable, "-c", resume], capture_output=True, text=True).stdout)

# %% [markdown]
# ## History, TTL and the keys in Redis
# `RedisSaver` keeps every checkpoint (time travel, forks with `copy_thread`);
# `ShallowRedisSaver` keeps only the latest. `ttl=` (seconds) expires an idle thread;
# `refresh_on_read=True` keeps a thread alive while it is read. Every key of a thread
# carries the thread's hash tag, so a thread lives in one Redis Cluster slot.

# %%
graph = build(RedisSaver(config))  # noqa: F821
for snapshot in graph.get_state_history(order):
    print(snapshot.metadata["step"], snapshot.next, snapshot.values)
client = config.get_client()
for key in sorted(client.scan_iter(match="nb-agent-state:cp:{order-1}*")):
    print(key.decode(), client.type(key).decode())

# %%
with_ttl = build(RedisSaver(config, ttl=3600, refresh_on_read=True))  # noqa: F821
ttl_thread = {"configurable": {"thread_id": "order-ttl"}}
with_ttl.invoke({"items": [], "approved": False}, ttl_thread)
keys = list(client.scan_iter(match="nb-agent-state:cp:{order-ttl}*"))
print(len(keys), "keys, seconds left:", sorted({client.ttl(k) for k in keys}))
RedisSaver(config).delete_thread("order-ttl")

# %%
shallow = build(ShallowRedisSaver(config))  # noqa: F821
shallow_thread = {"configurable": {"thread_id": "order-2"}}
shallow.invoke({"items": [], "approved": False}, shallow_thread)
print(len(list(shallow.get_state_history(shallow_thread))), "checkpoint kept")
ShallowRedisSaver(config).delete_thread("order-2")

# %% [markdown]
# ## Long-term memory across threads: `RedisStore`
# The checkpointer keeps one thread. A LangGraph store keeps what the agent should remember
# about a user in every thread: here a node saves facts under `("memories", user)` in one
# thread, and another process, in a new thread, finds them (by namespace and `filter`).
# Items are JSON in plain Redis hashes; `ttl=` is in minutes, as LangGraph's `TTLConfig`.

# %%
from langchain_redis_agent.store import RedisStore  # noqa: E402

memory_code = textwrap.dedent(
    """
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.store.base import BaseStore


    def remember(state: MessagesState, config, *, store: BaseStore) -> dict:
        user = config["configurable"]["user"]
        text = state["messages"][-1].content
        if text.startswith("remember "):
            fact = text.removeprefix("remember ")
            store.put(("memories", user), fact, {"fact": fact, "kind": "preference"})
        facts = [i.value["fact"] for i in store.search(("memories", user),
                                                       filter={"kind": "preference"})]
        return {"messages": [("ai", "I know: " + ", ".join(facts))]}


    builder = StateGraph(MessagesState)
    builder.add_node("remember", remember)
    builder.add_edge(START, "remember")
    """
)
exec(memory_code)
store = RedisStore(config, ttl={"default_ttl": 60 * 24 * 30})
for item in store.search(("memories", "ada"), limit=100):
    store.delete(item.namespace, item.key)  # start clean when re-run
graph = builder.compile(checkpointer=RedisSaver(config), store=store)  # noqa: F821
ada_1 = {"configurable": {"thread_id": "ada-1", "user": "ada"}}
graph.invoke({"messages": [("user", "remember green tea")]}, ada_1)
out = graph.invoke({"messages": [("user", "remember window seats")]}, ada_1)
print(out["messages"][-1].content)

child = memory_code + textwrap.dedent(
    f"""
    from langchain_redis_agent.checkpoint import RedisSaver
    from langchain_redis_agent.store import RedisStore
    from redis_agent_core import RedisAgentConfig

    config = RedisAgentConfig(url={URL!r}, namespace="nb-agent-state")
    graph = builder.compile(checkpointer=RedisSaver(config), store=RedisStore(config))
    new_thread = {{"configurable": {{"thread_id": "ada-2", "user": "ada"}}}}
    out = graph.invoke({{"messages": [("user", "what do you know?")]}}, new_thread)
    print(out["messages"][-1].content)
    """
)
result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
print("another process, thread ada-2:", result.stdout.strip() or result.stderr[-500:])
print(store.list_namespaces(prefix=("memories",)))

# %% [markdown]
# ## Finding memories by meaning
# With LangGraph's `index={"dims", "embed", "fields"}` the store embeds the `text` of each
# memory on put, and `search(query=...)` ranks a user's memories by meaning (cosine
# similarity as `score`), with the same results as LangGraph's `InMemoryStore`. It needs the
# Query Engine (the embedded server has it); the model is the offline all-MiniLM-L6-v2.

# %%
from langchain_redis_agent.embeddings import MiniLMEmbeddings  # noqa: E402

semantic = RedisStore(
    config,
    name="semantic-memories",
    index={"dims": 384, "embed": MiniLMEmbeddings(), "fields": ["text"]},
)
facts = {
    "f1": "drinks green tea every morning",
    "f2": "lives in Oslo, near the fjord",
    "f3": "is allergic to peanuts",
    "f4": "plays the violin on Sundays",
}
for key, text in facts.items():
    semantic.put(("memories", "ada"), key, {"text": text})
for question in ("food she must avoid", "where is home?", "what does she do at weekends?"):
    best = semantic.search(("memories", "ada"), query=question, limit=2)
    print(f"{question:<30}", [(item.value["text"], round(item.score, 2)) for item in best])

# %% [markdown]
# ## Picture: what a thread keeps
# Ten turns of one agent with each saver: the full saver keeps every checkpoint (history,
# time travel, forks), the shallow one only the latest, so its memory stays flat.

# %%
import matplotlib.pyplot as plt  # noqa: E402

series = {}
for label, plot_saver in (("RedisSaver", RedisSaver(config)),
                          ("ShallowRedisSaver", ShallowRedisSaver(config))):  # fmt: skip
    talker = create_agent(FakeListChatModel(responses=["ok"]), tools=[], checkpointer=plot_saver)
    plot_thread = {"configurable": {"thread_id": f"plot-{label}"}}
    plot_saver.delete_thread(f"plot-{label}")
    counts, kbytes = [], []
    for turn in range(10):
        talker.invoke({"messages": [("user", f"message {turn}")]}, plot_thread)
        counts.append(len(list(plot_saver.list(plot_thread))))
        keys = list(client.scan_iter(match=f"nb-agent-state:cp:{{plot-{label}}}*"))
        kbytes.append(sum(client.memory_usage(k) or 0 for k in keys) / 1024)
    series[label] = (counts, kbytes)
    plot_saver.delete_thread(f"plot-{label}")
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
for label, (counts, kbytes) in series.items():
    left.plot(range(1, 11), counts, marker="o", label=label)
    right.plot(range(1, 11), kbytes, marker="o", label=label)
left.set_xlabel("turns")
left.set_ylabel("checkpoints listed")
right.set_xlabel("turns")
right.set_ylabel("thread memory (KiB)")
left.legend()
fig.tight_layout()
plt.show()
