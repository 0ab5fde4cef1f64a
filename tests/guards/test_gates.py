"""The readings' gates: a frame is compared only where the query's side reads it, and a
side holding none of a frame's gates is not read there (``_readings.frames_differ``).
A gate that skips a text the frame reads would serve a wrong answer silently: these
tests hold the gated comparison to the ungated one, text by text and decision by
decision, on our own pairs (the unit tests' and the dev sets, never a held-out set)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from redis_agent_core.cache.calibrate import load_pairs
from redis_agent_core.cache.guards import AskGuard, ScopeGuard, Verifier, features
from redis_agent_core.cache.guards import _readings as R

_ROOT = Path(__file__).resolve().parents[2]
_SCOPE_FRAMES = (0, 1, 2, 3)
_TIME_AND_STEP = (4, 5)

# every frame read on each side, with the curly apostrophe the readings fold ("won’t")
_WRITTEN = [
    ("Do all of the tests need to pass?", "Do any of the tests need to pass?"),
    ("How many hours per week does a nurse work?", "How many hours a day does a nurse work?"),
    ("What is the minimum deposit?", "What is the maximum deposit?"),
    ("What is the total cost of the trip?", "What is the cost of each ticket?"),
    ("Why didn’t the build pass yesterday?", "Why won’t the build pass tomorrow?"),
    ("What do I do before the interview?", "What do I do after the interview?"),
    ("How much is it per annum?", "How much is it monthly?"),
    ("Can I withdraw at least 500 a day?", "Can I withdraw at most 500 a day?"),
]


@cache
def _pairs(sets: str = "guards_dev_*.jsonl") -> list[tuple[str, str]]:
    """Our own pairs: the unit tests' and the dev sets (written before they were judged)."""
    files = [_ROOT / "tests" / "guards" / "pairs.jsonl"]
    files += sorted((_ROOT / "benchmarks" / "data").glob(sets))
    found = [(p.query, p.cached) for path in files for p in load_pairs(path)]
    return _WRITTEN + found


def _texts() -> list[str]:
    return sorted({features(t).lower for pair in _pairs() for t in pair})


def _ungated(a: str, b: str, which: tuple[int, ...]) -> str | None:
    return R.readings_differ(R.readings(a), R.readings(b), which)


def test_each_frame_read_alone_is_the_readings_frame() -> None:
    # what the gate skips is what the readings would have found empty, text by text
    for text in _texts():
        read = R.readings(text)
        folded = text.replace("\u2019", "'")
        for i in range(len(read)):
            assert R._reads(folded, i) == read[i], (i, text, read[i])


def test_each_frames_gates_hold_every_gate_of_its_labels() -> None:
    # a label added to a table (or a gate to a label) is read by the gate at once: the
    # gates are the tables' own, and a frame with a label that needs none is always read
    tables = (R._QUANTIFIER, None, R._BOUND, R._WHOLE, R._TIME, R._STEP)
    for i, table in enumerate(tables):
        gates = R._FRAME_GATES[i]
        if table is None:
            assert gates == R._PERIOD_GATES
            continue
        for label, needed, _ in table:
            assert gates is None or set(needed) <= set(gates), (i, label)


@pytest.mark.parametrize("which", [_SCOPE_FRAMES, _TIME_AND_STEP])
def test_the_gated_frames_judge_as_both_sides_read_whole(which: tuple[int, ...]) -> None:
    for query, candidate in _pairs():
        for a, b in ((query, candidate), (candidate, query)):
            la, lb = features(a).lower, features(b).lower
            assert R.frames_differ(la, lb, which) == _ungated(la, lb, which), (a, b)
    # (the written pairs differ in each frame: the comparison is not vacuous)
    differ = [R.frames_differ(*(features(t).lower for t in p), which) for p in _WRITTEN]
    assert sum(d is not None for d in differ) >= 2


def test_the_scope_and_ask_guards_decide_as_ungated(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = Verifier(guards=[ScopeGuard(), AskGuard()])
    # (the dev sets of the scope and question guards: all of them take a minute)
    pairs = _pairs("guards_dev_scope*.jsonl") + _pairs("guards_dev_asks*.jsonl")
    cases = [(a, b) for q, c in pairs for a, b in ((q, c), (c, q))]
    gated = [verifier.verify(a, b) for a, b in cases]
    from redis_agent_core.cache import guards as G
    from redis_agent_core.cache.guards import _asks

    monkeypatch.setattr(G, "frames_differ", _ungated)
    monkeypatch.setattr(_asks, "frames_differ", _ungated)
    features.cache_clear()
    ungated = [verifier.verify(a, b) for a, b in cases]
    assert gated == ungated
    assert sum(r is not None and "differs (" in r.reason for r in ungated) >= 2
