"""Each prompt's frame read on its own (quantifier, period, bound, whole or part, time, step,
a condition stated as a fact): traps reworded as a whole, which the word-level guards see
no clean difference in. Pairs of our own, not from any pair set."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier
from redis_agent_core.cache.guards._readings import readings

# (stored, asked, the guard, what its reason names): another answer, worded otherwise too
TRAPS = [
    (
        "Do all the lights in the building run on the backup generator?",
        "Is any light in our building powered by the standby generator?",
        "scope",
        "quantifier differs",
    ),
    (
        "How many litres of water does a horse drink per day?",
        "What's a horse's weekly water intake in litres?",
        "scope",
        "period differs (day vs week)",
    ),
    (
        "How many calories are in a single scoop of vanilla ice cream?",
        "What's the calorie content of a whole tub of vanilla ice cream?",
        "scope",
        "whole or part differs",
    ),
    (
        "What did the board decide about the merger?",
        "What is the board expected to decide on the merger?",
        "asks",
        "time differs (past vs future)",
    ),
    (
        "What should a runner eat before a marathon?",
        "What's the best food for a runner once the marathon is over?",
        "asks",
        "step differs (before vs after)",
    ),
    (
        "If the landlord sells the flat, would my lease still hold?",
        "The landlord sold the flat last month. Is my lease still valid?",
        "asks",
        "a condition on one side, a fact on the other",
    ),
]

# (stored, asked, the frame both read): the same question reworded, its frame kept
KEPT = [
    (
        "Is every room in the hotel wheelchair accessible?",
        "Are all of the hotel's rooms accessible by wheelchair?",
        "quantifier",
    ),
    (
        "What's the overall running time of the Chernobyl miniseries?",
        "How long is the Chernobyl miniseries in total?",
        "whole",
    ),
    (
        "What did the board decide about the merger last week?",
        "Last week, what was the board's decision on the merger?",
        "time",
    ),
    (
        "What should a runner eat before a marathon?",
        "Prior to a marathon, what is a good meal for a runner?",
        "step",
    ),
    (
        "Write SQL for the sum of sales for each region in 2025.",
        "Write SQL giving the total sales per region for 2025.",
        "whole",
    ),
]


@pytest.mark.parametrize(("stored", "asked", "guard", "named"), TRAPS)
def test_a_reworded_trap_is_refused_with_its_frame_named(
    stored: str, asked: str, guard: str, named: str
) -> None:
    for query, candidate in ((asked, stored), (stored, asked)):
        rejection = Verifier().verify(query, candidate)
        assert rejection is not None, (query, candidate)
        assert rejection.guard == guard, rejection
        assert named.split(" (")[0] in rejection.reason, rejection
    # (the query's reading first)
    rejection = Verifier().verify(stored, asked)
    assert rejection is not None and named in rejection.reason, rejection


@pytest.mark.parametrize(("stored", "asked", "frame"), KEPT)
def test_the_same_frame_reworded_is_kept(stored: str, asked: str, frame: str) -> None:
    # both sides read the frame, alike: compared, and kept
    assert getattr(readings(stored.lower()), frame)
    assert getattr(readings(stored.lower()), frame) == getattr(readings(asked.lower()), frame)
    for query, candidate in ((asked, stored), (stored, asked)):
        assert Verifier().verify(query, candidate) is None, (query, candidate)


def test_a_condition_asked_either_way_is_kept() -> None:
    """Stated or supposed, the same advice is asked: no refusal."""
    stored = "What should I do if my passport is stolen abroad?"
    asked = "My passport was stolen abroad; what should I do?"
    assert Verifier().verify(asked, stored) is None
    assert Verifier().verify(stored, asked) is None


def test_stored_features_judge_alike() -> None:
    """A candidate whose features were read back from a cache entry is judged as parsed."""
    stored, asked = TRAPS[1][:2]
    verifier = Verifier()
    assert verifier.remember(stored, Verifier.features_of(stored))
    rejection = verifier.verify(asked, stored)
    assert rejection is not None and "period differs" in rejection.reason
