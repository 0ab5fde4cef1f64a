# %% [markdown]
# # Conversation state for LangChain in Redis
#
# `RedisChatMessageHistory` keeps each conversation in one Redis list: appends are one
# atomic round trip that also refreshes the session's TTL and trims it, every LangChain
# message type round-trips exactly, and building a history costs no I/O. This notebook
# runs on the embedded Redis (no server to install) with a fake chat model.

# %%
import warnings

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from langchain_redis_agent import RedisChatMessageHistory
from redis_agent_core import RedisAgentConfig, SessionStore, default_embedder

warnings.filterwarnings("ignore", category=DeprecationWarning)
config = RedisAgentConfig(namespace="nb-history-lc")  # no URL: the embedded server
_ = SessionStore(config).clear("demo")  # start clean when re-run

# %% [markdown]
# ## Store and read messages
# Tool calls, usage metadata and tool results come back exactly as they went in.

# %%
history = RedisChatMessageHistory("demo", config=config, ttl=3600, max_messages=100)
history.add_messages(
    [
        SystemMessage("You are a weather bot."),
        HumanMessage("Weather in Oslo?"),
        AIMessage(
            "",
            tool_calls=[{"name": "weather", "args": {"city": "Oslo"}, "id": "call_1"}],
            usage_metadata={"input_tokens": 9, "output_tokens": 5, "total_tokens": 14},
        ),
        ToolMessage("-3°C, snow", tool_call_id="call_1"),
        AIMessage("It is -3°C and snowing in Oslo."),
    ]
)
for message in history.messages:
    print(f"{message.type:>6}: {message.content or message.tool_calls}")

# %% [markdown]
# ## Session metadata, TTL and the session index
# Metadata sits in a hash beside the list with the same sliding TTL; sessions are listed
# from a sorted set by last activity (never `KEYS` or `SCAN`).

# %%
history.update_metadata({"user_id": "u-42", "preferences": {"units": "metric"}})
info = history.info()
print(info.metadata, f"{info.message_count} messages, expires in {info.ttl:.0f} s")
print("sessions:", SessionStore(config).sessions())

# %% [markdown]
# ## With `RunnableWithMessageHistory`
# The chain builds a history per call: that is free here, the config's pool is shared.

# %%
prompt = ChatPromptTemplate.from_messages(
    [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{input}")]
)
model = FakeListChatModel(responses=["Nice to meet you, Ana.", "You are Ana."])
chain = RunnableWithMessageHistory(
    prompt | model,
    lambda session_id: RedisChatMessageHistory(session_id, config=config, ttl=3600),
    input_messages_key="input",
    history_messages_key="history",
)
run = {"configurable": {"session_id": "chat-ana"}}
print(chain.invoke({"input": "I am Ana."}, config=run).content)
print(chain.invoke({"input": "Who am I?"}, config=run).content)
print([m.content for m in RedisChatMessageHistory("chat-ana", config=config).messages])

# %% [markdown]
# ## Optional semantic recall
# With an embedder, each message is also indexed as a vector, so old messages that left
# the trimmed window can still be found by meaning (one embedding per message).

# %%
recall = RedisChatMessageHistory(
    "recall-demo", config=config, embedder=default_embedder(), max_messages=2
)
recall.clear()
recall.add_messages(
    [
        HumanMessage("My sister's wedding is in Lisbon next June."),
        HumanMessage("I switched my car to winter tyres."),
        HumanMessage("I baked a lemon tart for dinner."),
    ]
)
print("window:", [m.content for m in recall.messages])
print("recalled:", [m.content for m in recall.relevant("family event abroad", k=1)])

# %%
for session in ("demo", "chat-ana", "recall-demo"):
    RedisChatMessageHistory(session, config=config).clear()
recall.clear()

# %% [markdown]
# ## Picture: reading a history as it grows
# One round trip whatever the length: the read time grows with the bytes returned, not
# with round trips (the core `SessionStore`, raw JSON payloads).

# %%
import statistics  # noqa: E402
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

store = SessionStore(config)
sizes, read_ms = [0], [0.0]
payload = b'{"type": "human", "data": {"content": "a message of about sixty bytes"}}'
store.clear("plot")
for size in (10, 50, 100, 250, 500, 1000, 2000):
    store.append("plot", [payload] * (size - sizes[-1]))
    sizes.append(size)
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        assert len(store.read("plot")) == size
        timings.append((time.perf_counter() - started) * 1000)
    read_ms.append(statistics.median(timings))
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(sizes[1:], read_ms[1:], marker="o")
ax.set_xlabel("messages in the session")
ax.set_ylabel("read, median (ms)")
fig.tight_layout()
plt.show()
store.clear("plot")
