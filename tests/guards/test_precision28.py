"""Traps served on main, refused by a general reading naming its reason (session 28).

Pairs of our own, not the blind sets' words."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier

TRAPS = [
    # the speaker vs a person as the doer of a question's verb
    (
        "How should my accountant reply to the tax notice?",
        "How should I reply to my accountant's tax notice?",
        "argument",
    ),
    # "and" vs "or" joining the same two things
    (
        "Do I need a licence and insurance to run a food truck?",
        "Do I need a licence or insurance to run a food truck?",
        "scope",
    ),
    # what may be vs what one occasion will bring
    ("Could a storm close the harbour?", "Will a storm close the harbour next week?", "asks"),
    # a legal duty vs advice
    (
        "What should an employer do about a burst pipe?",
        "What is an employer legally required to do about a burst pipe?",
        "asks",
    ),
]


@pytest.mark.parametrize(("stored", "asked", "guard"), TRAPS)
def test_trap_refused_either_way(stored: str, asked: str, guard: str) -> None:
    verifier = Verifier()
    for query, candidate in ((asked, stored), (stored, asked)):
        rejection = verifier.verify(query, candidate)
        assert rejection is not None and rejection.guard == guard, rejection


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        (
            "I take my tea without sugar or milk, is that healthy?",
            "I take my tea without sugar and milk, is that healthy?",
        ),
        ("Can I legally park on my own driveway?", "Am I allowed to park on my own driveway?"),
        ("Which pills must not be crushed?", "Which pills should never be crushed?"),
    ],
)
def test_look_alike_not_refused_by_these_readings(stored: str, asked: str) -> None:
    rejection = Verifier().verify(asked, stored)
    assert rejection is None or not rejection.reason.startswith(("and vs or", "a duty vs"))
