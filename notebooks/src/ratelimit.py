# %% [markdown]
# # Rate limits and token budgets shared by every process
#
# `RateLimiter` checks request limits (exact sliding windows) and token budgets
# (reserve an estimate, settle the real usage) per user, org or globally, in one Lua
# script per call on the Redis server's clock. This notebook runs on the embedded
# Redis: `RedisAgentConfig()` with no URL starts one.

# %%
import itertools

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from llama_index.core.callbacks import CallbackManager
from llama_index.core.llms import MockLLM

from langchain_redis_agent import RateLimitCallbackHandler
from llamaindex_redis_agent import RateLimitCallbackHandler as LIHandler
from llamaindex_redis_agent import rate_limit_subject
from redis_agent_core import RedisAgentConfig
from redis_agent_core.ratelimit import RateLimiter, RateLimitExceeded, RequestLimit, TokenBudget

config = RedisAgentConfig(namespace="nb-ratelimit")
limiter = RateLimiter(
    [
        RequestLimit.per_minute(3),  # per user
        RequestLimit.per_minute(100, per="global"),
        TokenBudget.daily(1_000),  # per user, resets at UTC midnight
    ],
    config=config,
    name="demo",
)
limiter.reset(user="alice")
limiter.reset(user="bob")
for i in range(4):
    d = limiter.try_acquire(user="alice", tokens=200)
    print(i, d.allowed, d.remaining, f"retry_after={d.retry_after:.1f}s")

# %% [markdown]
# A refusal consumes nothing. Settling charges the real usage instead of the estimate:

# %%
d = limiter.try_acquire(user="bob", tokens=300)
limiter.settle(d.reservation, 120)  # used 120 of the 300 reserved
print(limiter.peek(user="bob", requests=0).remaining)

# %% [markdown]
# ## LangChain: a callback that stops one user, not the others
# The user comes from the run's metadata; a cache hit costs nothing.

# %%
usage = {"input_tokens": 12, "output_tokens": 18, "total_tokens": 30}
model = GenericFakeChatModel(messages=itertools.repeat(AIMessage("ok", usage_metadata=usage)))
handler = RateLimitCallbackHandler(limiter)
for user in ("carol", "carol", "carol", "carol", "dave"):
    limiter.reset(user=user)
for user in ("carol", "carol", "carol", "carol", "dave"):
    try:
        model.invoke("hello", config={"callbacks": [handler], "metadata": {"user_id": user}})
        print(user, "ok")
    except RateLimitExceeded as exc:
        print(user, "refused:", exc.limit, f"retry in {exc.retry_after:.0f}s")
print(
    "carol's tokens left:",
    limiter.peek(user="carol", requests=0).remaining["tok-user-fixed-1000per1d"],
)

# %% [markdown]
# ## LlamaIndex: the CallbackManager handler
# Legacy callback handlers can stop a call; `rate_limit_subject` names the user.

# %%
llm = MockLLM(callback_manager=CallbackManager([LIHandler(limiter)]))
limiter.reset(user="erin")
with rate_limit_subject("erin"):
    for i in range(4):
        try:
            llm.complete("hi")
            print("erin call", i, "ok")
        except RateLimitExceeded as exc:
            print("erin call", i, "refused by", exc.limit)

# %%
for user in ("alice", "bob", "carol", "dave", "erin"):
    limiter.reset(user=user)
config.close()

# %% [markdown]
# ## Picture: admissions per second under pressure
# A client asks as fast as it can for three seconds against a limit of 20 requests per
# second (sliding window): admissions stay at the limit, the rest are refused.

# %%
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

burst = RateLimiter([RequestLimit.per_second(20)], name="plot", config=config)
burst.reset(user="plot")
events = []
started = time.perf_counter()
while (now := time.perf_counter() - started) < 3.0:
    events.append((now, burst.try_acquire(user="plot").allowed))
    time.sleep(0.002)
bins = [i / 4 for i in range(13)]
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist([[t for t, ok in events if ok], [t for t, ok in events if not ok]], bins=bins,
        stacked=True, label=["admitted", "refused"], color=["tab:green", "tab:gray"])  # fmt: skip
ax.set_xlabel("seconds")
ax.set_ylabel("calls per 250 ms")
ax.legend()
fig.tight_layout()
plt.show()
admitted = sum(ok for _, ok in events)
print(f"{admitted} admitted of {len(events)} in 3 s: {admitted / 3:.1f}/s against a limit of 20/s")
