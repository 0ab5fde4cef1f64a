# %% [markdown]
# # A semantic cache that does not serve wrong answers
#
# "Cancel my subscription" and "Don't cancel my subscription" are near neighbours for an
# embedding model; so are "Convert 5 miles" and "Convert 50 miles". A semantic cache
# that serves the nearest stored answer within a distance threshold serves the wrong
# answer to both. The guards check each candidate before it is served: negation,
# numbers/dates/units, named entities and quoted text, direction ("from A to B"), scope
# (adults vs children, my vs my colleague's) and output constraints (language, length,
# format). The rules are pure Python (0.15-0.3 ms a lookup); then a small pair model
# (int8, CPU, ~2.5 ms) reads what they let through and refuses what they missed.

# %%
import time

from IPython.display import Markdown, display

from redis_agent_core import RedisAgentConfig
from redis_agent_core.cache import SemanticCache
from redis_agent_core.cache.calibrate import (
    calibrate,
    default_pairs_path,
    format_report,
    load_pairs,
)
from redis_agent_core.cache.guards import (
    DEFAULT_DISTANCE_THRESHOLD,
    Verifier,
    default_guards,
    default_verifier,
)

verifier = default_verifier()

# %% [markdown]
# ## The guards on their own
# `verify(new_prompt, stored_prompt)` returns `None` (serve it) or a `Rejection` whose
# `guard` is the category the cache counts in `stats()`.

# %%
pairs = [
    ("Don't cancel my subscription", "Cancel my subscription"),
    ("Convert 50 miles to km", "Convert 5 miles to km"),
    ("Wake me at 7pm", "Wake me at seven this evening"),
    ("Book a flight from Madrid to Berlin", "Book a flight from Berlin to Madrid"),
    ("What's the capital of Austria?", "What's the capital of Australia?"),
    ("Paracetamol dose for children", "Paracetamol dose for adults"),
    ("How do I reset my colleague's password?", "How do I reset my password?"),
    ("Explain recursion in 3 sentences", "Explain recursion briefly"),
    ("How can I make the text bigger?", "How do I increase the font size?"),
    ("how do i instal docker on ubuntu", "How do I install Docker on Ubuntu?"),
]
for new, stored in pairs:
    rejection = verifier.verify(new, stored)
    verdict = "serve" if rejection is None else f"{rejection.guard}: {rejection.reason}"
    print(f"{new!r:45} vs {stored!r:40} -> {verdict}")

# %% [markdown]
# Chat prompts reach the guards as conversation text (`role: content` lines): roles are
# ignored and the whole context is compared, so the same question after a different
# history is not served.

# %%
history = "system: You answer billing questions.\nhuman: My plan costs $10 a month.\nai: Noted.\n"
question = "human: How much will I pay in a year?"
print(verifier.verify(history + question, history.replace("$10", "$30") + question))
print(verifier.verify("human: What is the capital of Peru?", "What's the capital of Peru?"))

# %% [markdown]
# ## Your own guards and verifiers
# Pass any objects with `name` and `check`, drop some defaults, or add an `extra`
# verifier (sync or async, e.g. a cross-encoder or an LLM judge) that runs only on
# candidates the guards let through.


# %%
class NoMedicalAdvice:
    name = "custom"

    def check(self, query: str, candidate: str) -> str | None:
        return "medical questions are never served from cache" if "dose" in query else None


strict = Verifier([*default_guards(), NoMedicalAdvice()])
print(strict.verify("What's the paracetamol dose for adults?", "Paracetamol dose for adults?"))

calls = []


async def judge(query: str, candidate: str) -> bool:
    calls.append(query)
    return True  # e.g. ask a cross-encoder here


judged = Verifier(extra=judge)
# top-level await: the notebook kernel runs an event loop
print(await judged.averify("Don't cancel it", "Cancel it"), calls)  # the judge is skipped
print(await judged.averify("How do I cancel it?", "How can I cancel it?"), calls)

# %% [markdown]
# ## In the semantic cache
# The cache fetches the few nearest entries within the threshold and serves the first
# the verifier accepts; rejections are counted by guard.

# %%
config = RedisAgentConfig(namespace="nb-guards")  # no URL: the embedded server
cache = SemanticCache(config, name="guards-demo", distance_threshold=DEFAULT_DISTANCE_THRESHOLD)
cache.clear()
scope = "demo-model"
cache.update("Cancel my subscription", scope, '"Your subscription is cancelled."')
cache.update("Convert 5 miles to km", scope, '"8.05 km"')
for prompt in [
    "Please cancel my subscription",
    "Don't cancel my subscription",
    "Convert five miles to km",
    "Convert 50 miles to km",
]:
    hit = cache.lookup(prompt, scope)
    print(f"{prompt!r:35} -> {hit.payload if hit else 'miss'}")
print(cache.stats().rejections)
cache.clear()

# %% [markdown]
# ## Choosing a threshold knowingly: `redis-agent cache calibrate`
# On fow-cache's 600 labelled pairs with all-MiniLM-L6-v2, embedding-only precision
# never reaches 0.95 at any useful recall; with the guards it does. (Evaluating pairs
# approximates a cache: a pair is served when its distance is within the threshold and
# the verifier passes it, or when the cache's second pass on a miss, typos and short names
# respelt, serves it.) The same report from the shell:
# `redis-agent cache calibrate --target-precision 0.95`.

# %%
started = time.perf_counter()
if default_pairs_path() is not None:
    report = calibrate(load_pairs(), thresholds=[0.05, 0.1, 0.2, 0.3], target_precision=0.95)
    display(Markdown(format_report(report)))
print(f"default threshold with guards: {DEFAULT_DISTANCE_THRESHOLD}")
print(f"calibrated in {time.perf_counter() - started:.1f} s (model load included)")

# %% [markdown]
# ## Picture: precision and recall, with and without the guards
# The same thresholds on fow-cache's pairs: the guards buy precision at every threshold
# for a little recall.

# %%
import matplotlib.pyplot as plt  # noqa: E402

if default_pairs_path() is not None and report.with_verifier is not None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    for rows, label in ((report.without_verifier, "embedding only"),
                        (report.with_verifier, "with guards")):  # fmt: skip
        thresholds = [r.threshold for r in rows]
        left.plot(thresholds, [r.precision for r in rows], marker="o", label=label)
        right.plot(thresholds, [r.recall for r in rows], marker="o", label=label)
    left.set_xlabel("distance threshold")
    left.set_ylabel("precision")
    right.set_xlabel("distance threshold")
    right.set_ylabel("recall")
    left.legend()
    fig.tight_layout()
    plt.show()
