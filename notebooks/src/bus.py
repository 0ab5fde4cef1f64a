# %% [markdown]
# # The agent bus: Pub/Sub channels and durable Streams topics
#
# `AgentBus` gives agents two ways to talk over Redis, with one typed JSON envelope
# (id, topic, sender, correlation id, time, payload):
#
# - **channels** (Pub/Sub): lowest latency, live listeners only, no delivery guarantee;
# - **durable topics** (Streams + consumer groups): kept, acked, and taken over from a
#   consumer that crashed (at-least-once), in order, with a bounded length.
#
# Everything here runs on the embedded Redis (no `REDIS_URL` needed).

# %%
import threading
import time
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms import MockLLM

from langchain_redis_agent import BusCallbackHandler, make_bus_tools
from llamaindex_redis_agent import BusEventHandler
from llamaindex_redis_agent import make_bus_tools as li_bus_tools
from redis_agent_core import AgentBus, BusTimeoutError, RedisAgentConfig, RedisUnavailableError

config = RedisAgentConfig(namespace="nb-bus")
client = config.get_client()
for key in client.scan_iter(match=config.keys.pattern()):  # a clean slate on re-runs
    client.delete(key)
bus = AgentBus(config, sender="notebook")

# %% [markdown]
# ## Channels: live, fire and forget
# A message published while nobody listens is gone (`receivers == 0`); a subscriber
# gets what is published after `subscribe()` returns.

# %%
print("before anyone listens:", bus.publish("news", "lost").receivers, "receivers")
with bus.subscribe("news") as sub:
    sent = bus.publish("news", {"headline": "Redis 8.2 is out"})
    got = sub.get(timeout=1)
print("receivers:", sent.receivers)
print(got)

# %% [markdown]
# ## Durable topics: consumer groups, acks, and a crashed consumer
# Each group gets every message; inside a group each message goes to one consumer.
# A consumer that reads and dies without acking leaves the message pending: another
# consumer of the group claims it once it has been idle for `claim_idle` seconds.

# %%
for n in range(5):
    bus.publish("orders", {"order": n}, durable=True)

doomed = bus.consumer("orders", "billing", "worker-1", claim_idle=None)
held = doomed.read(count=2)  # ...and worker-1 crashes before acking
print("worker-1 held:", [m.payload for m in held])

survivor = bus.consumer("orders", "billing", "worker-2", claim_idle=0.2)
first = survivor.read(count=10)  # the three nobody held, processed and acked
print("worker-2 first read:", [m.payload for m in first])
survivor.ack(*first)
time.sleep(0.3)
claimed = survivor.read(count=10)
print("worker-2 claimed after idle:", [m.payload for m in claimed])
survivor.ack(*claimed)

audit = bus.consumer("orders", "audit")  # another group: sees all five, in order
print("audit group:", [m.payload["order"] for m in audit.read(count=10)])
print("topic length:", bus.topic_length("orders"))

# %% [markdown]
# ## Request / reply with a timeout
# The requester subscribes to a private reply channel *before* sending, so even an
# instant reply cannot be missed. No responder: `BusTimeoutError`.

# %%
responder_ready = threading.Event()


def responder() -> None:
    with bus.subscribe("math") as requests:
        responder_ready.set()
        req = requests.get(timeout=5)
        bus.reply(req, {"sum": sum(req.payload)})


threading.Thread(target=responder, daemon=True).start()
responder_ready.wait()
started = time.perf_counter()
answer = bus.request("math", [1, 2, 3], timeout=2)
print(answer.payload, f"in {(time.perf_counter() - started) * 1000:.1f} ms")
try:
    bus.request("nobody-home", "hello?", timeout=0.2)
except BusTimeoutError as exc:
    print("timeout:", exc)

# %% [markdown]
# ## LangChain: two agents coordinate, and their run events go to a topic
# Agent A publishes a result with the `publish_message` tool; agent B, already waiting
# with `wait_for_message`, continues from it. A `BusCallbackHandler` publishes both
# agents' run events (LLM / tool ends, errors) to `agent.events`, where a monitor reads
# them. The models are scripted fakes so the notebook runs offline.

# %%


class ScriptedAgent(BaseChatModel):
    """Calls one tool on the user's turn; afterwards continues from the tool's result."""

    tool_name: str
    tool_args: dict[str, Any]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            msg = AIMessage(content=f"Continuing from: {last.content}")
        else:
            call = {"name": self.tool_name, "args": self.tool_args, "id": "call-1"}
            msg = AIMessage(content="", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=msg)])


def run_agent(model, tools, prompt, callbacks):
    by_name = {t.name: t for t in tools}
    config = {"callbacks": callbacks}
    messages = [HumanMessage(prompt)]
    while True:
        ai = model.invoke(messages, config=config)
        messages.append(ai)
        if not ai.tool_calls:
            return ai.content
        for call in ai.tool_calls:
            messages.append(by_name[call["name"]].invoke(call, config=config))


events = BusCallbackHandler(bus, topic="agent.events", chains=False)
writer = ScriptedAgent(
    tool_name="publish_message",
    tool_args={"topic": "drafts", "message": "Draft: Redis keeps agent state in memory."},
)
reviewer = ScriptedAgent(
    tool_name="wait_for_message", tool_args={"topic": "drafts", "timeout_seconds": 10}
)
review: list[str] = []
b = threading.Thread(
    target=lambda: review.append(
        run_agent(reviewer, make_bus_tools(bus, group="reviewer"), "review", [events])
    )
)
b.start()  # B waits first
print("A:", run_agent(writer, make_bus_tools(bus, group="writer"), "write", [events]))
b.join()
print("B:", review[0])

monitor = bus.consumer("agent.events", "monitor")
for m in monitor.read(count=20):
    print(
        f"{m.payload['event']:9} {m.payload['name'] or '':18} {str(m.payload.get('output'))[:60]}"
    )

# %% [markdown]
# ## LlamaIndex: instrumentation events and the same tools as `FunctionTool`s

# %%
handler = BusEventHandler(bus=bus, topic="li.events")
get_dispatcher().add_event_handler(handler)
MockLLM().complete("What does the bus carry?")
get_dispatcher().event_handlers.remove(handler)
for m in bus.consumer("li.events", "monitor").read(count=10):
    print(m.payload["event"], "→", str(m.payload.get("response", ""))[:70])

publish, wait = li_bus_tools(bus, group="li-agent")
print(publish.call(topic="handoff", message="ticket 42 triaged"))
print(wait.call(topic="handoff", timeout_seconds=1))

# %% [markdown]
# ## When Redis is down
# Bus calls raise `RedisUnavailableError` (a `ConnectionError`) naming the server and
# the fix; nothing is buffered locally. The callback / event handlers log and drop the
# event instead, so observability never stops an agent.

# %%
down = AgentBus(RedisAgentConfig(url="redis://127.0.0.1:1", retries=0))
try:
    down.publish("t", "x")
except RedisUnavailableError as exc:
    print(type(exc).__name__, "-", str(exc)[:160])

# %% [markdown]
# ## Picture: how long a message takes to arrive
# The age of 500 Pub/Sub messages when the subscriber receives them (publish and receive
# in one process here; across hosts, add the network).

# %%
import matplotlib.pyplot as plt  # noqa: E402

plot_bus = AgentBus(config, sender="plot")
subscription = plot_bus.subscribe("plot-lag").start()
lags = []
for i in range(500):
    plot_bus.publish("plot-lag", {"i": i})
    message = subscription.get(timeout=2)
    lags.append((time.time() - message.time) * 1000)
subscription.close()
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist(lags, bins=40, color="tab:blue")
ax.set_xlabel("publish to receive (ms)")
ax.set_ylabel("messages")
fig.tight_layout()
plt.show()
print(f"median {sorted(lags)[250]:.2f} ms, max {max(lags):.2f} ms")
