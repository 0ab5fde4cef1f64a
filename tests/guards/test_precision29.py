"""Traps served by the guards on main, refused by a general reading naming its reason
(session 29): a change for the better vs for the worse, a duty or a right vs a
prediction, an amount changed "by" vs "to", a change that multiplies vs one that
divides, which acts on which, the effects vs the causes asked, works by vs about
someone, whether something may have happened vs that it did, "if you ..." as a
condition against the fact stated, an adverb whose adjective has a WordNet antonym.
Pairs of our own, not the blind sets' words."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier

TRAPS = [
    # better vs worse: "help" / "make ... worse", "soothe" / "aggravate"
    ("Does honey help a sore throat?", "Can honey make a sore throat worse?", "antonym"),
    ("Does warm weather help gout?", "Does warm weather worsen gout?", "antonym"),
    # a duty vs a prediction; a right vs a prediction, of one doer
    (
        "Does my insurer have to cover storm damage to the fence?",
        "Will my insurer cover storm damage to the fence?",
        "asks",
    ),
    (
        "Can the council tow my car from outside my house?",
        "Will the council tow my car from outside my house?",
        "asks",
    ),
    # "by" vs "to" the same amount
    (
        "If my hourly wage rises by 15 dollars, what do I earn in a 40-hour week?",
        "If my hourly wage rises to 15 dollars, what do I earn in a 40-hour week?",
        "number",
    ),
    # multiplied vs divided
    (
        "What happens to the bake time if I double the cake recipe?",
        "What happens to the bake time if I halve the cake recipe?",
        "number",
    ),
    (
        "How heavy is a box twice as big as this one?",
        "How heavy is a box half as big as this one?",
        "number",
    ),
    # which acts on which
    (
        "How does screen time affect children's sleep?",
        "What effect does sleep have on children's screen time?",
        "argument",
    ),
    # what a thing brings vs why it happens
    ("What causes soil erosion?", "What are the consequences of soil erosion?", "asks"),
    # works by someone vs about them
    ("List podcasts by Malcolm Gladwell", "List podcasts about Malcolm Gladwell", "scope"),
    # whether it may have happened vs that it did
    (
        "Could my wallet have been stolen on the train?",
        "My wallet was stolen on the train, who do I call?",
        "asks",
    ),
    # a condition "if you ..." vs the fact stated
    (
        "What would happen if you dropped a laptop in the sea?",
        "I dropped my laptop in the sea, what do I do now?",
        "asks",
    ),
    # an adverb's adjective's antonym
    (
        "How do I split the screen vertically in tmux?",
        "How do I split the screen horizontally in tmux?",
        "antonym",
    ),
]


@pytest.mark.parametrize(("stored", "asked", "guard"), TRAPS)
def test_trap_refused_either_way_by_the_guards(stored: str, asked: str, guard: str) -> None:
    verifier = Verifier()  # the guards alone: no scorer to lean on
    for query, candidate in ((asked, stored), (stored, asked)):
        rejection = verifier.verify(query, candidate)
        assert rejection is not None and rejection.guard == guard, rejection


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        # the speaker may / the thing will: one question
        ("Can I charge my phone with a laptop charger?", "Will a laptop charger charge my phone?"),
        ("Does stretching help back pain?", "Does stretching ease back pain?"),
        (
            "How do I double my savings in five years?",
            "How can I make my savings twice as big in five years?",
        ),
        ("Raise the font size by 2 points in Word", "Increase the font size by 2 points in Word"),
        ("How do I quickly peel garlic?", "What's the fastest way to peel garlic?"),
        ("What are the effects of noise on sleep?", "How does noise affect sleep?"),
        (
            "Could my email have been hacked?",
            "How can I tell if my email has been hacked?",
        ),
    ],
)
def test_look_alike_not_refused_by_these_readings(stored: str, asked: str) -> None:
    for query, candidate in ((asked, stored), (stored, asked)):
        rejection = Verifier().verify(query, candidate)
        assert rejection is None or not rejection.reason.startswith(
            (
                "better vs worse",
                "a change",
                "question differs: will",
                "question differs: can",
                "which acts",
                "question differs: what effect",
                "what may have",
            )
        ), rejection
