"""Traps served in session 27, read in general: an exclusion said by a verb ("..., skipping
the X ones", "Ignore any X."), one of a kind against all of it ("restart a pod" /
"restart all pods"), a yes/no question over all of a kind against which or how many of it,
and a modality said another way ("can you X" / "should you X", "would it be wise",
"does the airline have to", a question opening with "umm"). Pairs of our own, not from
any pair set. Each case is a triple: the stored prompt, a trap (another answer: refused,
naming the guard and its reason) and a true rewording (one answer: let through by the
whole verifier, either way round)."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier

# (guard, what its reason says, stored, trap, true rewording)
CASES = [
    # an exclusion said by a verb, after the request or as an order of its own
    (
        "scope",
        "an exception on one side only (skipping the ones near moab)",
        "List the national parks in Utah.",
        "List the national parks in Utah, skipping the ones near Moab.",
        "Name the national parks in Utah.",
    ),
    (
        "scope",
        "an exception on one side only (omit the marketing section)",
        "Summarise the quarterly report.",
        "Summarise the quarterly report and omit the marketing section.",
        "Give me a summary of the quarterly report.",
    ),
    (
        "scope",
        "an exception on one side only (ignore the beta features)",
        "Write the release notes for version 3.",
        "Ignore the beta features. Write the release notes for version 3.",
        "Draft the release notes for version 3.",
    ),
    # one of a kind on one side, all of it on the other
    (
        "scope",
        "one vs all (pod)",
        "Restart all pods in the payments namespace.",
        "Restart a pod in the payments namespace.",
        "Restart every pod in the payments namespace.",
    ),
    (
        "scope",
        "one vs all (ticket)",
        "Does the refund cover all tickets in the booking?",
        "Does the refund cover a single ticket in the booking?",
        "Does the refund cover every ticket in the booking?",
    ),
    # a yes/no question over all of a kind against which or how many of it
    (
        "scope",
        "all vs which (mushrooms)",
        "Are all mushrooms in this forest edible?",
        "How many mushrooms in this forest are edible?",
        "Is every mushroom in this forest edible?",
    ),
    (
        "scope",
        "all vs which (trains)",
        "Do all trains to Leeds stop at York?",
        "Which trains to Leeds stop at York?",
        "Does every train to Leeds stop at York?",
    ),
    # a modality said another way
    (
        "asks",
        "question differs: should you freeze vs can you freeze",
        "can you freeze cooked rice",
        "should you freeze cooked rice",
        "is it possible to freeze cooked rice",
    ),
    (
        "asks",
        "question differs: should I vs can I",
        "Can I sell my car while there is a loan on it?",
        "Would it be wise to sell my car while there is a loan on it?",
        "Am I allowed to sell my car while there is a loan on it?",
    ),
    (
        "asks",
        "question differs: should I vs can I",
        "Can toddlers drink oat milk?",
        "umm should toddlers drink oat milk?",
        "Are toddlers allowed to drink oat milk?",
    ),
    (
        "asks",
        "question differs: should I vs must I",
        "Does the airline have to compensate me for a four-hour delay?",
        "Should the airline compensate me for a four-hour delay?",
        "Is the airline required to compensate me for a four-hour delay?",
    ),
]


@pytest.mark.parametrize(("guard", "said", "stored", "trap", "true"), CASES)
def test_a_trap_is_refused_with_its_reason_and_a_rewording_is_served(
    guard: str, said: str, stored: str, trap: str, true: str
) -> None:
    verifier = Verifier()
    for query, candidate in ((trap, stored), (stored, trap)):  # either way round
        refusal = verifier.verify(query, candidate)
        assert refusal is not None, f"served {query!r} for {candidate!r}"
        assert refusal.guard == guard
    refusal = verifier.verify(trap, stored)
    assert refusal is not None and said in refusal.reason, refusal
    assert verifier.verify(true, stored) is None, f"refused {true!r}"
    assert verifier.verify(stored, true) is None


# (a trap the reading refuses, a pair it must not refuse: said alike, one answer)
LOOK_ALIKES = [
    # a list of all that do is a list of which do
    (
        ("Do all trains to Leeds stop at York?", "Which trains to Leeds stop at York?"),
        ("List all the trains to Leeds that stop at York.", "Which trains to Leeds stop at York?"),
    ),
    # "each" goes item by item: the price of a single one
    (
        ("Does the refund cover all tickets in the booking?", "Does it cover one ticket?"),
        ("What's the price of a single ticket to the match?", "How much is each ticket?"),
    ),
    # "not one manager" is none of them
    (
        ("Email the report to every store manager.", "Email the report to a store manager."),
        (
            "Since Tuesday none of the store managers got the report: why?",
            "Since Tuesday not one store manager got the report: why?",
        ),
    ),
    # "what else can I try" / "what else should I try": no yes/no modality
    (
        ("can you freeze cooked rice", "should you freeze cooked rice"),
        (
            "The rice is still hard. What else can I try?",
            "The rice is still hard. What else should I try?",
        ),
    ),
    # the exclusion said both ways: "skipping" and "do not include"
    (
        ("Summarise the report.", "Summarise the report, skipping the appendix."),
        (
            "Summarise the report, skipping the appendix.",
            "Summarise the report and do not include the appendix.",
        ),
    ),
]


@pytest.mark.parametrize(("trap", "alike"), LOOK_ALIKES)
def test_a_reading_refuses_its_trap_and_not_a_look_alike(
    trap: tuple[str, str], alike: tuple[str, str]
) -> None:
    verifier = Verifier()
    assert verifier.verify(*trap) is not None and verifier.verify(*trap[::-1]) is not None
    for query, candidate in (alike, alike[::-1]):
        refusal = verifier.verify(query, candidate)
        assert refusal is None or not refusal.reason.startswith(
            ("one vs all", "all vs which", "an exception", "question differs")
        ), refusal
