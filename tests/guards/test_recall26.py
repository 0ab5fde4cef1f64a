"""True pairs refused for a negation, a quantifier or a number said another way (recall26),
each beside traps of the same look that must still be refused: a negation in one word on
one side and in two on the other ("unsafe" / "not safe", "prohibited" / "not allowed",
"non-toxic" / "isn't toxic"), "zero X" / "none of the X" / "never had an X" for "no X",
an ISO date for the month, day and year it names,
"all (of) the Xs" for "every X", digits before a scale word ("4 million" / "four
million") and "a pair of" for two. The guards and the pair scorer both judge them
(:func:`default_verifier`: what a cache uses)."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier, default_verifier
from redis_agent_core.cache.guards._renegate import renegated

pytest.importorskip("onnxruntime")


def _served(a: str, b: str) -> bool:
    """Whether the default verifier serves ``b``'s answer to ``a``, asked both ways."""
    v = default_verifier()
    one, other = v.verify(a, b), v.verify(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one is None


CASES = [
    # a negation in one word / in two: the same
    (
        ("Are bicycles prohibited on the subway?", "are bicycles not allowed on the subway"),
        [
            ("Are bicycles prohibited on the subway?", "are bicycles allowed on the subway"),
            ("Are bicycles prohibited on the subway?", "are scooters not allowed on the subway"),
            ("Are bicycles allowed on the subway?", "are bicycles not allowed on the subway"),
        ],
    ),
    (
        (
            "Is it illegal to camp on the beach in Florida?",
            "Is camping on the beach not permitted in Florida?",
        ),
        [
            (
                "Is it illegal to camp on the beach in Florida?",
                "Is camping on the beach permitted in Florida?",
            ),
            (
                "Is it illegal to camp on the beach in Florida?",
                "Is camping on the beach not permitted in Georgia?",
            ),
        ],
    ),
    (
        ("Which houseplants are non-toxic to cats?", "Which houseplants aren't toxic to cats?"),
        [
            ("Which houseplants are non-toxic to cats?", "Which houseplants are toxic to cats?"),
            ("Which houseplants are non-toxic to cats?", "Which houseplants aren't toxic to dogs?"),
        ],
    ),
    # "zero X" / "none of the X" / "never had an X" for "no X"
    (
        ("Show the vendors with no invoices.", "Show the vendors with zero invoices."),
        [
            ("Show the vendors with no invoices.", "Show the vendors with two invoices."),
            ("Show the vendors with no invoices.", "Show the vendors with zero payments."),
        ],
    ),
    (
        ("Make sure none of the buckets are public.", "Make sure no bucket is public."),
        [
            ("Make sure some of the buckets are public.", "Make sure no bucket is public."),
            ("Make sure none of the buckets are public.", "Make sure every bucket is public."),
        ],
    ),
    # "all (of) the Xs" for "every X"
    (
        ("Do all of the contractors need a badge?", "Does every contractor need a badge?"),
        [
            ("Do some of the contractors need a badge?", "Does every contractor need a badge?"),
            ("Do all of the contractors need a badge?", "Does every visitor need a badge?"),
        ],
    ),
]


@pytest.mark.parametrize(("same", "traps"), CASES)
def test_negations_and_wholes_said_otherwise(
    same: tuple[str, str], traps: list[tuple[str, str]]
) -> None:
    assert _served(*same), same
    for trap in traps:
        assert not _served(*trap), trap


def test_renegated_rewrites_only_into_the_other_sides_words() -> None:
    # each side's negation is written as the other side writes it, or not at all
    assert renegated("Is tap water unsafe here?", "Is tap water not safe here?") == (
        "Is tap water unsafe here?",
        "Is tap water unsafe here?",
    )
    assert renegated("Is tap water unsafe here?", "Is tap water safe here?") == (
        "Is tap water unsafe here?",
        "Is tap water safe here?",
    )
    # "not hot" is not "cold": antonyms outside the few of a ban are left as written
    assert renegated("Is the soup cold?", "Is the soup not hot?") == (
        "Is the soup cold?",
        "Is the soup not hot?",
    )


# the guards alone (the scorer still refuses these: 0.00)
GUARDS_ONLY = [
    # an ISO date is its month, day and year
    (
        (
            "Delete the rows created before 2023-06-30.",
            "Delete the rows created before June 30, 2023.",
        ),
        [
            (
                "Delete the rows created before 2023-06-30.",
                "Delete the rows created before July 30, 2023.",
            ),
            (
                "Delete the rows created before 2023-06-30.",
                "Delete the rows created before June 29, 2023.",
            ),
            (
                "Delete the rows created before 2023-06-30.",
                "Delete the rows created before 2023-06-29.",
            ),
            (
                "Delete the rows created before 2023-06-30.",
                "Delete the rows created after June 30, 2023.",
            ),
        ],
    ),
    (
        (
            "Show the vendors who have never sent an invoice.",
            "Show the vendors with zero invoices.",
        ),
        [
            (
                "Show the vendors who have never disputed an invoice.",
                "Show the vendors with zero invoices.",
            ),
            ("Show the vendors who have sent an invoice.", "Show the vendors with zero invoices."),
        ],
    ),
    (
        (
            "The log table holds about 4 million rows; how do I index it?",
            "The log table holds about four million rows; how do I index it?",
        ),
        [
            (
                "The log table holds about 4 million rows; how do I index it?",
                "The log table holds about four billion rows; how do I index it?",
            ),
            (
                "The log table holds about 4 million rows; how do I index it?",
                "The log table holds about 4 rows; how do I index it?",
            ),
        ],
    ),
    (
        (
            "Can I take two power banks on a flight?",
            "Can I take a pair of power banks on a flight?",
        ),
        [
            (
                "Can I take three power banks on a flight?",
                "Can I take a pair of power banks on a flight?",
            )
        ],
    ),
]


@pytest.mark.parametrize(("same", "traps"), GUARDS_ONLY)
def test_numbers_and_none_written_otherwise(
    same: tuple[str, str], traps: list[tuple[str, str]]
) -> None:
    guards = Verifier()
    assert guards.verify(*same) is None and guards.verify(same[1], same[0]) is None, same
    for trap in traps:
        assert guards.verify(*trap) is not None, trap


# articles alone differ: the scorer gave such pairs 0.00-0.01 ("List customers with orders"
# / "List the customers with orders"); a name "a" in code, an operator or another word is
# still a difference
ARTICLES_ONLY = [
    ("Show suppliers with late deliveries", "Show the suppliers with late deliveries"),
    ("What is the boiling point of the ethanol?", "What is the boiling point of ethanol?"),
    ("best tent for a rainy weekend", "best tent for rainy weekend"),
]
STILL_DIFFERENT = [
    ("Show suppliers with late deliveries", "Show the suppliers with early deliveries"),
    ("What is the boiling point of the ethanol?", "What is the melting point of ethanol?"),
    ("In Python, what is a - b when b is 2?", "In Python, what is a + b when b is 2?"),
]


@pytest.mark.parametrize(("a", "b"), ARTICLES_ONLY)
def test_articles_alone_are_no_difference(a: str, b: str) -> None:
    assert _served(a, b)


@pytest.mark.parametrize(("a", "b"), STILL_DIFFERENT)
def test_articles_are_dropped_only_before_a_word(a: str, b: str) -> None:
    assert not _served(a, b)  # refused both ways (_served checks they agree)


# a prefix WordNet does not read as a negation: "inflammable" is flammable, "invaluable"
# very valuable, "inhabitable" habitable: "not X" against them is another question
FALSE_NEGATIONS = [
    ("Is this gas not flammable?", "Is this gas inflammable?"),
    ("Is this old painting not valuable?", "Is this old painting invaluable?"),
    ("Is the island not habitable?", "Is the island inhabitable?"),
]


@pytest.mark.parametrize(("a", "b"), FALSE_NEGATIONS)
def test_a_prefix_that_does_not_negate_is_no_negation(a: str, b: str) -> None:
    assert renegated(a, b) == (a, b)
    assert not _served(a, b)
