"""recall29: true pairs the cache refused, served; their same-look traps still refused.

- The band past the distance threshold (``band_threshold``, default 0.45): a reworded
  prompt that shares the answer, a little too far for the threshold, is served when the
  guards pass it and the pair scorer is surer than its own cut (0.95); a trap out there
  that the scorer passes at its own cut (0.9) is not.
- Numbers said another way: "24% APR" is a rate, not April; "a one-week trip" is one
  week, and "for a week" that period, not a qualifier; "a fifty-dollar bill" is money ("a
  50-euro bill" is other money).

Pairs of our own wording (not from any pair set).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.cache.band_pass import DEFAULT_BAND_CUT, band_cut
from redis_agent_core.cache.guards import PairScorer, Verifier
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import SentenceTransformerEmbedder
from redis_agent_core.errors import ConfigError
from tests.conftest import skip_unless

A = make_scope({"model": "a"})
# (stored, asked): 0.31 apart with the default model, one answer; the pair scorer gives it
# 0.99, above the band's cut (0.97). (A second pair, glasses fogging with a mask, scored
# 0.9701 with the session 29 scorer: too near the cut for int8 arithmetic on another CPU.)
REWORDED = [
    (
        "How do I fix a leaking kitchen tap?",
        "My kitchen faucet keeps dripping, how do I repair it?",
    ),
]
# 0.37 apart; the pair scorer gives it 0.91: its own cut (0.9) would serve it
TRAP = ("How do I keep cut avocado from turning brown?", "How can I ripen a hard avocado faster?")


@pytest.fixture
def _search(capabilities: Capabilities) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")


@pytest.mark.usefixtures("_search")
def test_a_reworded_prompt_past_the_threshold_is_served_and_a_trap_there_is_not(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(config, embedder=minilm, respell_threshold=None)
    assert cache.band_threshold == 0.45
    for i, (stored, _) in enumerate([*REWORDED, TRAP]):
        cache.update(stored, make_scope({"model": f"m{i}"}), f"answer {i}")
    for i, (_, asked) in enumerate(REWORDED):
        hit = cache.lookup(asked, make_scope({"model": f"m{i}"}))
        assert hit is not None and hit.payload == f"answer {i}", asked
        assert cache.distance_threshold < hit.distance <= 0.45
    assert cache.lookup(TRAP[1], make_scope({"model": f"m{len(REWORDED)}"})) is None

    off = SemanticCache(config, embedder=minilm, name="off", band_threshold=None)
    off.update(REWORDED[0][0], A, "answer")
    assert off.lookup(REWORDED[0][1], A) is None


@pytest.mark.usefixtures("_search")
async def test_async_lookups_take_the_band_too(
    aconfig: RedisAgentConfig, minilm: SentenceTransformerEmbedder
) -> None:
    cache = SemanticCache(aconfig, embedder=minilm, respell_threshold=None)
    await cache.aupdate(REWORDED[0][0], A, "answer")
    await cache.aupdate(TRAP[0], make_scope({"model": "t"}), "trap")
    hit = await cache.alookup(REWORDED[0][1], A)
    assert hit is not None and hit.payload == "answer"
    assert await cache.alookup(TRAP[1], make_scope({"model": "t"})) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verifier": None, "band_threshold": 0.4}, "needs a verifier with the pair scorer"),
        ({"verifier": Verifier(), "band_threshold": 0.4}, "needs a verifier with the pair scorer"),
        ({"band_threshold": 0.2}, "between distance_threshold"),
        ({"band_threshold": 0.7}, "between distance_threshold"),
    ],
)
def test_a_bad_band_threshold_is_refused_before_anything_is_written(
    config: RedisAgentConfig, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        SemanticCache(config, **kwargs)


def test_no_band_without_the_pair_scorer_or_past_it(config: RedisAgentConfig) -> None:
    assert SemanticCache(config, verifier=Verifier()).band_threshold is None
    assert SemanticCache(config, verifier=None).band_threshold is None
    assert SemanticCache(config, distance_threshold=0.5).band_threshold is None


class _Scorer:
    def __init__(self, weights: Path, threshold: float) -> None:
        self._weights, self.threshold = weights, threshold


@pytest.mark.parametrize(
    ("meta", "threshold", "cut"),
    [
        ({"threshold": 0.8}, 0.8, DEFAULT_BAND_CUT),  # none stated: the default
        ({"threshold": 0.8, "band_cut": 0.97}, 0.8, 0.97),  # a retrained scorer's own
        ({"threshold": 0.8, "band_cut": 0.9}, 0.96, 0.96),  # never below its own cut
    ],
)
def test_the_band_cut_is_read_from_the_scorer_json(
    tmp_path: Path, meta: dict, threshold: float, cut: float
) -> None:
    (tmp_path / "mine.json").write_text(json.dumps(meta))
    assert band_cut(_Scorer(tmp_path / "mine.safetensors", threshold)) == cut


def test_evaluate_counts_what_the_band_serves(minilm: SentenceTransformerEmbedder) -> None:
    """``cache evaluate`` / ``calibrate`` serve what the cache's band serves; ``band=False``
    (the CLI's ``--no-band``) leaves it out."""
    from redis_agent_core.cache.calibrate import LabelledPair, calibrate

    pairs = [
        *(LabelledPair(s, a, True, f"t{i}") for i, (s, a) in enumerate(REWORDED)),
        LabelledPair(*TRAP, False, "trap"),
    ]

    def served(**kwargs: object) -> list[int]:
        report = calibrate(pairs, embedder=minilm, evaluate_at=0.26, respell=False, **kwargs)  # type: ignore[arg-type]
        return [r.served for r in report.categories if r.category != "all"]

    assert served() == [1, 0]  # categories sorted: t0, trap
    assert served(band=False) == [0, 0]


# (stored, asked): one answer, the guards alone serve them (main read them as other numbers)
NUMBERS_SAME = [
    # "APR" in capitals is the rate, not April
    (
        "What's the monthly interest on a $2,000 balance at 18% APR?",
        "Monthly interest on two thousand dollars owed at 18 percent a year?",
    ),
    ("Can I pay off a 0% APR card early?", "Can I pay off a zero percent card early?"),
    # a count joined to its unit by a hyphen; "for a week" is that period, no qualifier
    (
        "Do I need a visa for a one-week stay in Canada?",
        "Do I need a visa to stay in Canada for a week?",
    ),
    (
        "Do I need a visa for a one-week trip to Japan?",
        "Do I need a visa to visit Japan for a week?",
    ),
    (
        "How do I add a one-second delay in a bash loop?",
        "How do I add a 1 second delay in a bash loop?",
    ),
    ("How much is a 15% tip on a fifty-dollar bill?", "How much is a 15% tip on a $50 bill?"),
]
# (stored, asked): same look, another answer: still refused by the number guard
NUMBERS_OTHER = [
    ("Can I rent a car in Lisbon for a week?", "Can I rent a car in Lisbon?"),
    ("Does my card's intro rate end on Apr 5?", "Does my card's intro rate end on June 5?"),
    ("Does the promo rate end in APR 2027?", "Does the promo rate end in June 2027?"),
    (
        "Do I need a visa for a one-week trip to Japan?",
        "Do I need a visa to visit Japan for a month?",
    ),
    (
        "Do I need a visa for a one-week trip to Japan?",
        "Do I need a visa for a two-week trip to Japan?",
    ),
    (
        "How do I add a one-second delay in a bash loop?",
        "How do I add a 5 second delay in a bash loop?",
    ),
    ("How much is a 15% tip on a fifty-dollar bill?", "How much is a 15% tip on a $60 bill?"),
    ("How much is a 15% tip on a fifty-dollar bill?", "How much is a 15% tip on a 50-euro bill?"),
]


@pytest.mark.parametrize(("stored", "asked"), NUMBERS_SAME)
def test_numbers_said_another_way_pass_the_guards(stored: str, asked: str) -> None:
    guards = Verifier()
    assert guards.verify(asked, stored) is None
    assert guards.verify(stored, asked) is None


@pytest.mark.parametrize(("stored", "asked"), NUMBERS_OTHER)
def test_other_numbers_said_the_same_ways_are_refused(stored: str, asked: str) -> None:
    guards = Verifier()
    for q, c in ((asked, stored), (stored, asked)):
        rejection = guards.verify(q, c)
        assert rejection is not None and rejection.guard == "number", (q, rejection)


@pytest.mark.usefixtures("_search")
def test_the_band_serves_nothing_when_the_scorer_cannot_run(
    config: RedisAgentConfig, minilm: SentenceTransformerEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # onnxruntime found at construction (so the band is on) but failing to import when
    # the scorer loads: the scorer then passes every pair, and the band served what the
    # guards alone passed up to 0.45 (the trap below, which the guards pass)
    cache = SemanticCache(
        config, embedder=minilm, verifier=Verifier(scorer=PairScorer()), respell_threshold=None
    )
    assert cache.band_threshold == 0.45
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime: ImportError
    cache.update(TRAP[0], A, "trap")
    assert cache.lookup(TRAP[1], A) is None
