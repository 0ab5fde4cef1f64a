"""The semantic cache's second pass on a miss (``respell_threshold``): a prompt whose typo
or short name puts it past the distance threshold is served once the pair, respelt, is the
same words or near and passes the verifier; traps past the threshold stay misses.

Pairs from benchmarks/data/guards_dev_wide23.jsonl, through the real cache (embedded Redis,
the default model, the default verifier)."""

from __future__ import annotations

import numpy as np
import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.cache.guards import Verifier
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_core.errors import ConfigError
from tests.conftest import skip_unless

A = make_scope({"model": "a"})

# (stored, asked): past 0.26 apart, one to three misspellings or a short name from the
# same question (their distances with the default model)
TRUE = [
    ("How do I delete a branch in git?", "How do I delte a brnach in git?"),  # 0.35
    ("How do I file a Freedom of Information Act request?", "How do I file a FOIA request?"),
    ("What is Structured Query Language used for?", "What is SQL used for?"),  # 0.44
    ("sql inner join example", "sql iner join exmaple"),  # 0.40
]
# (stored, asked): past 0.26, near once respelt (0.16, 0.19, 0.20), but another question
TRAPS = [
    (
        "How do I apply to the Massachusetts Institute of Technology for a master's?",
        "How do I apply to MIT for a PhD?",
    ),
    ("What were Franklin D. Roosevelt's main policies?", "What were FDR's main failures?"),
    ("How do I install numpy on Windows?", "How do I uninstal numpy on Windwos?"),
]


@pytest.fixture(autouse=True)
def _needs_search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


def _distance(model: SentenceTransformerEmbedder, a: str, b: str) -> float:
    u, v = (np.asarray(model.embed([t])[0], np.float64) for t in (a, b))
    return 1.0 - float(u @ v) / float(np.linalg.norm(u) * np.linalg.norm(v))


def _store(cache: SemanticCache, pairs: list[tuple[str, str]]) -> None:
    for i, (stored, _) in enumerate(pairs):
        cache.update(stored, make_scope({"model": f"m{i}"}), f"answer {i}")


def test_typos_and_short_names_past_the_threshold_are_served_and_traps_are_not(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(config, embedder=minilm)
    assert cache.respell_threshold == 0.45
    _store(cache, TRUE)
    for i, (_, asked) in enumerate(TRUE):
        hit = cache.lookup(asked, make_scope({"model": f"m{i}"}))
        assert hit is not None and hit.payload == f"answer {i}", asked
        assert cache.distance_threshold < hit.distance <= 0.45  # beyond the first pass
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.rejections) == (len(TRUE), 0, {})

    traps = SemanticCache(config, embedder=minilm, name="traps")
    _store(traps, TRAPS)
    for i, (stored, asked) in enumerate(TRAPS):
        assert cache.distance_threshold < _distance(minilm, stored, asked) <= 0.45
        assert traps.lookup(asked, make_scope({"model": f"m{i}"})) is None, asked


def test_a_long_prompt_with_a_typo_refused_by_the_span_check_is_served(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    """0.18 apart whole, but the words they differ by ("marathon" / "marathn") are far
    apart alone: the first pass refused it (span), respelt it is the same words."""
    stored = (
        "How should I prepare for a half marathon if I currently run about ten kilometres a week?"
    )
    cache = SemanticCache(config, embedder=minilm)
    cache.update(stored, A, "build up slowly")
    hit = cache.lookup(stored.replace("marathon", "marathn"), A)
    assert hit is not None and hit.payload == "build up slowly"
    stats = cache.stats()
    assert (stats.hits, stats.rejections) == (1, {})  # a hit, not also a refusal


def test_respell_threshold_none_keeps_the_first_pass_only(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    # (and without the band past the threshold, which serves some of them: test_recall29)
    cache = SemanticCache(config, embedder=minilm, respell_threshold=None, band_threshold=None)
    _store(cache, TRUE)
    for i, (_, asked) in enumerate(TRUE):
        assert cache.lookup(asked, make_scope({"model": f"m{i}"})) is None
    # the guards alone (no pair scorer) have no second pass unless asked for
    assert SemanticCache(config, embedder=minilm, verifier=Verifier()).respell_threshold is None
    assert SemanticCache(config, embedder=minilm, verifier=None).respell_threshold is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verifier": None, "respell_threshold": 0.4}, "needs a verifier"),
        ({"respell_threshold": 0.2}, "between distance_threshold"),
        ({"respell_threshold": 0.7}, "between distance_threshold"),
        ({"respell_threshold": 40}, "DISTANCE"),
        ({"respell_threshold": "0.4"}, "must be a number"),
    ],
)
def test_a_bad_respell_threshold_is_refused_before_anything_is_written(
    config: RedisAgentConfig, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SemanticCache(config, **kwargs)
    with pytest.raises(TypeError):
        SemanticCache(config, respell_treshold=0.4)  # type: ignore[call-arg]


async def test_async_lookups_take_the_second_pass_too(
    aconfig: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(aconfig, embedder=minilm)
    for i, (stored, _) in enumerate(TRUE + TRAPS):
        await cache.aupdate(stored, make_scope({"model": f"m{i}"}), f"answer {i}")
    for i, (_, asked) in enumerate(TRUE + TRAPS):
        hit = await cache.alookup(asked, make_scope({"model": f"m{i}"}))
        if i < len(TRUE):
            assert hit is not None and hit.payload == f"answer {i}", asked
        else:
            assert hit is None, asked


# (stored, asked, same answer): the second pass's pairs above, and pairs each pass leaves
# alone: one the first pass serves, one the verifier refuses within the threshold, one
# misspelt too far (0.46), one unrelated
JUDGED = [
    *((s, a, True) for s, a in TRUE),
    *((s, a, False) for s, a in TRAPS),
    ("How do I delete a git branch?", "How can I delete a git branch?", True),
    ("How do I enable dark mode?", "How do I disable dark mode?", False),
    ("reset password", "resett pasword", True),
    ("What is the capital of France?", "How do I bake sourdough bread?", False),
]


def _evaluated(minilm: SentenceTransformerEmbedder, **kwargs: object) -> list[bool]:
    """What ``redis-agent cache evaluate`` counts as served, pair by pair (one category
    a pair), at the cache's default threshold."""
    from redis_agent_core.cache.calibrate import LabelledPair, calibrate

    pairs = [LabelledPair(s, a, same, f"{i:02}") for i, (s, a, same) in enumerate(JUDGED)]
    report = calibrate(pairs, embedder=minilm, evaluate_at=0.26, **kwargs)  # type: ignore[arg-type]
    return [r.served == 1 for r in report.categories if r.category != "all"]


def test_evaluate_counts_what_the_second_pass_serves(minilm: SentenceTransformerEmbedder) -> None:
    """``cache evaluate`` / ``calibrate`` judge pairs as the cache serves them: a typo'd
    or short-named true pair past 0.26 is served, the traps past it are not; without the
    second pass (``respell=False``, the CLI's ``--no-respell``) the first are not."""
    served = _evaluated(minilm)
    assert served[: len(TRUE)] == [True] * len(TRUE)
    assert served[len(TRUE) : len(TRUE) + len(TRAPS)] == [False] * len(TRAPS)
    off = _evaluated(minilm, respell=False, band=False)  # (the band serves some: test_recall29)
    assert off[: len(TRUE)] == [False] * len(TRUE)


def test_evaluate_agrees_with_the_cache_pair_by_pair(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    """The same decisions, pair by pair, as a real cache on the embedded Redis (each
    stored prompt alone in its scope, then asked)."""
    cache = SemanticCache(config, embedder=minilm)
    _store(cache, [(s, a) for s, a, _ in JUDGED])
    looked_up = [
        cache.lookup(asked, make_scope({"model": f"m{i}"})) is not None
        for i, (_, asked, _) in enumerate(JUDGED)
    ]
    assert looked_up == _evaluated(minilm)
    assert looked_up == [True] * 4 + [False] * 3 + [True, False, False, False]


async def test_the_extra_judge_is_asked_of_a_pair_respelt_to_the_same_words(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    # review 24: a pair respelt to the same words was served without the verifier, so
    # an extra= judge that refused it (the user's own rule) was overruled: "...with
    # asprin" got the answer stored for "...with aspirin" although the judge said no
    from redis_agent_core.cache.guards import default_verifier

    asked: list[tuple[str, str]] = []

    def judge(query: str, candidate: str) -> bool:
        asked.append((query, candidate))
        return False

    stored = "Is it safe to take ibuprofen with aspirin?"
    typed = "Is it safe to take ibuprofen with asprin?"  # the same words respelt
    cache = SemanticCache(
        config, embedder=minilm, verifier=Verifier(scorer=default_verifier().scorer, extra=judge)
    )
    cache.update(stored, A, "answer")
    assert cache.lookup(typed, A) is None
    assert (stored, stored) in asked
    assert await cache.alookup(typed, A) is None

    async def ajudge(query: str, candidate: str) -> bool:
        return True

    cache.verifier = Verifier(scorer=default_verifier().scorer, extra=ajudge)
    hit = await cache.alookup(typed, A)
    assert hit is not None and hit.payload == "answer"  # a judge that agrees: served
