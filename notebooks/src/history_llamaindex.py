# %% [markdown]
# # Conversation state for LlamaIndex in Redis
#
# Two chat stores on one Redis core: `RedisChatStore` (`BaseChatStore`, for
# `ChatMemoryBuffer` and chat engines) and `RedisAsyncChatStore` (`AsyncDBChatStore`,
# for the newer `Memory`, which archives old messages instead of dropping them). Runs on
# the embedded Redis with `MockLLM`.

# %%
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import ChatMessage, MockLLM
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus

from llamaindex_redis_agent import RedisAsyncChatStore, RedisChatStore
from redis_agent_core import RedisAgentConfig

config = RedisAgentConfig(namespace="nb-history-li")  # no URL: the embedded server
store = RedisChatStore(config, ttl=3600)
for key in store.get_keys():  # start clean when re-run
    store.delete_messages(key)

# %% [markdown]
# ## A chat engine whose memory lives in Redis

# %%
memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="user-42")
engine = SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=6), memory=memory)
engine.chat("Hello, I am planning a trip to Kyoto.")
engine.chat("What should I pack?")
for message in store.get_messages("user-42"):
    print(f"{message.role.value:>9}: {message.content}")
print("keys:", store.get_keys())

# %% [markdown]
# ## Deleting by index keeps the order
# (The `llama-index-storage-chat-store-redis` package reverses the list here.)

# %%
store.delete_message("user-42", 1)
print([m.content[:25] for m in store.get_messages("user-42")])
info = store.info("user-42")
print(f"{info.message_count} messages, expires in {info.ttl:.0f} s")

# %% [markdown]
# ## `Memory` with archiving
# With a small token limit, `Memory` moves the oldest turns to the archive: they leave
# the active queue sent to the LLM but stay in Redis.

# %%
async_store = RedisAsyncChatStore(config, ttl=3600)
memory = Memory.from_defaults(
    session_id="agent-7", chat_store=async_store, token_limit=60, token_flush_size=20
)
for i in range(8):
    memory.put_messages(  # the sync wrappers run the async store on their own loop
        [
            ChatMessage(role="user", content=f"Question {i} about Redis lists?"),
            ChatMessage(role="assistant", content=f"Answer {i}: use RPUSH and LRANGE."),
        ]
    )
active = memory.get_all(status=MessageStatus.ACTIVE)
archived = memory.get_all(status=MessageStatus.ARCHIVED)
print(f"active: {len(active)}, archived: {len(archived)}")
print("sent to the LLM:", [m.content for m in memory.get()][:4])

# %%
memory.reset()
store.delete_messages("user-42")
print("keys left:", store.get_keys())

# %% [markdown]
# ## Picture: messages kept per session
# Each session is one list; `max_messages` trims it in the same script that appends, so
# a long conversation stays bounded.

# %%
import matplotlib.pyplot as plt  # noqa: E402

bounded = RedisChatStore(config, max_messages=50)
unbounded = RedisChatStore(config)
for key in ("plot-bounded", "plot-unbounded"):
    bounded.delete_messages(key)
turns, kept_bounded, kept_unbounded = [], [], []
for turn in range(1, 121):
    message = ChatMessage(role="user", content=f"turn {turn}")
    bounded.add_message("plot-bounded", message)
    unbounded.add_message("plot-unbounded", message)
    if turn % 5 == 0:
        turns.append(turn)
        kept_bounded.append(len(bounded.get_messages("plot-bounded")))
        kept_unbounded.append(len(unbounded.get_messages("plot-unbounded")))
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot(turns, kept_unbounded, label="no limit")
ax.plot(turns, kept_bounded, label="max_messages=50")
ax.set_xlabel("messages appended")
ax.set_ylabel("messages stored")
ax.legend()
fig.tight_layout()
plt.show()
for key in ("plot-bounded", "plot-unbounded"):
    bounded.delete_messages(key)
