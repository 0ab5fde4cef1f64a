"""True pairs the guards refused for a number or a negation said another way (recall27),
each beside traps of the same look that must still be refused: a currency's code before
the amount ("GBP 1,200" / "1,200 pounds"), millions glued to their digits ("20M rows"),
"a quarter hour" / "15 minutes", "a month" / "30 days", "against the law" / "illegal",
"has no value" / "is empty", "can not be enforced" / "unenforceable". The guards judge
them alone (``Verifier()``): the pair scorer is another helper's."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier
from redis_agent_core.cache.guards._features import features
from redis_agent_core.cache.guards._renegate import renegated


def _passed(a: str, b: str) -> bool:
    """Whether the guards pass the pair, asked both ways (and agree on it)."""
    guards = Verifier()
    one, other = guards.verify(a, b), guards.verify(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one is None


CASES = [
    # a currency's ISO code before the amount
    (
        (
            "I paid a USD 750 deposit. When is it refunded?",
            "I paid a 750 dollar deposit. When is it refunded?",
        ),
        [
            (
                "I paid a USD 750 deposit. When is it refunded?",
                "I paid a 750 euro deposit. When is it refunded?",
            ),
            (
                "I paid a USD 750 deposit. When is it refunded?",
                "I paid a USD 570 deposit. When is it refunded?",
            ),
        ],
    ),
    # millions and billions glued to their digits
    (
        (
            "Our Kafka topic holds 35M messages. How long will a full replay take?",
            "Our Kafka topic holds 35 million messages. How long will a full replay take?",
        ),
        [
            (
                "Our Kafka topic holds 35M messages. How long will a full replay take?",
                "Our Kafka topic holds 35 thousand messages. How long will a full replay take?",
            ),
            (
                "Our Kafka topic holds 35M messages. How long will a full replay take?",
                "Our Kafka topic holds 53 million messages. How long will a full replay take?",
            ),
        ],
    ),
    # a count glued to its scale, then its unit
    (
        (
            "Our 2015 Corolla has 120k miles on it. Is a timing belt change due?",
            "Our 2015 Corolla has 120,000 miles on it. Is a timing belt change due?",
        ),
        [
            (
                "Our 2015 Corolla has 120k miles on it. Is a timing belt change due?",
                "Our 2015 Corolla has 120k km on it. Is a timing belt change due?",
            ),
            (
                "Our 2015 Corolla has 120k miles on it. Is a timing belt change due?",
                "Our 2015 Corolla has 12,000 miles on it. Is a timing belt change due?",
            ),
        ],
    ),
    # a quarter hour, a half-day
    (
        ("Poll the queue every quarter hour.", "Poll the queue every 15 minutes."),
        [
            ("Poll the queue every quarter hour.", "Poll the queue every hour."),
            ("Poll the queue every quarter hour.", "Poll the queue every 30 minutes."),
        ],
    ),
    (
        ("Plan a half-day team offsite in Porto.", "Plan a 12-hour team offsite in Porto."),
        [("Plan a half-day team offsite in Porto.", "Plan a two-day team offsite in Porto.")],
    ),
    # a month against its days (within 2%), a year against its days
    (
        (
            "How much is a 30-day pass for the Lisbon metro?",
            "How much is a month's pass for the Lisbon metro?",
        ),
        [
            (
                "How much is a 30-day pass for the Lisbon metro?",
                "How much is a 7-day pass for the Lisbon metro?",
            ),
            (
                "How much is a 60-day pass for the Lisbon metro?",
                "How much is a month's pass for the Lisbon metro?",
            ),
        ],
    ),
    # "against the law" is a ban, said in three words
    (
        (
            "Is it illegal to fly a drone over a stadium?",
            "Is flying a drone over a stadium against the law?",
        ),
        [
            (
                "Is it legal to fly a drone over a stadium?",
                "Is flying a drone over a stadium against the law?",
            ),
            (
                "Is it illegal to fly a drone over a stadium?",
                "Is flying a drone over a stadium allowed?",
            ),
        ],
    ),
    # "has no value" / "is empty"
    (
        (
            "Flag the orders whose discount field is empty.",
            "Flag the orders whose discount field has no value.",
        ),
        [
            (
                "Flag the orders whose discount field is not empty.",
                "Flag the orders whose discount field is empty.",
            ),
            (
                "Flag the orders whose discount field is empty.",
                "Flag the orders whose shipping field has no value.",
            ),
        ],
    ),
    # "can not be Xed" / "unXable"
    (
        (
            "Is a verbal promise to lend money unenforceable?",
            "Can a verbal promise to lend money not be enforced?",
        ),
        [
            (
                "Is a verbal promise to lend money enforceable?",
                "Can a verbal promise to lend money not be enforced?",
            ),
            (
                "Is a verbal promise to lend money unenforceable?",
                "Can a verbal promise to lend money be enforced?",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("same", "traps"), CASES)
def test_numbers_and_negations_said_otherwise(
    same: tuple[str, str], traps: list[tuple[str, str]]
) -> None:
    assert _passed(*same), same
    for trap in traps:
        assert not _passed(*trap), trap


def test_a_code_after_an_amount_or_a_medical_ratio_is_no_money() -> None:
    # "9.99 EUR two times": the code belongs to the amount before it, "two" is a count;
    # "INR 2.5" is the blood test's ratio, not rupees
    assert features("Charged 9.99 EUR two times on March 1").quantities == {
        "money:eur:9.99": 1,
        "num:2": 1,
    }
    assert features("Her INR is 2.5 on warfarin").quantities == {"num:2.5": 1}
    # a unit glued after "m" is no million ("1.73m2" is square metres)
    assert "num:1.73e+06" not in features("eGFR 38 mL/min/1.73m2").quantities


def test_renegated_writes_phrases_only_as_the_other_side_says_them() -> None:
    assert renegated("Is vaping indoors against the law?", "Is vaping indoors unlawful?") == (
        "Is vaping indoors unlawful?",
        "Is vaping indoors unlawful?",
    )
    # no ban on the other side: left as written
    assert renegated("Is vaping indoors against the law?", "Is vaping indoors legal?") == (
        "Is vaping indoors against the law?",
        "Is vaping indoors legal?",
    )
    # "empty" only where the other side says it
    assert renegated("Skip cells that have no data.", "Skip cells that are blank.") == (
        "Skip cells that have no data.",
        "Skip cells that are blank.",
    )


def test_a_passive_is_read_as_its_able_word_only_where_the_prefix_negates() -> None:
    """ "not be enforced" / "unenforceable" (WordNet antonyms) is one no; "not be valued" /
    "invaluable" is not: invaluable means very valuable (as fix26b found for one word)."""
    pair = (
        "Can the non-compete clause not be enforced?",
        "Is the non-compete clause unenforceable?",
    )
    assert renegated(*pair)[0] == "Can the non-compete clause be unenforceable?"
    valued = ("Can my grandmother's ring not be valued?", "Is my grandmother's ring invaluable?")
    assert renegated(*valued) == valued
    assert not _passed(*valued)


# two long prompts said in other words: a WordNet "opposite" pair that sits in other places
# (no same word right before or after: "the recruiter wants a short summary" / "give it to
# the recruiter", want / give) is no opposite; one swapped in beside the same word ("list
# the strengths" / "list the weaknesses") still is
_PANEL = (
    "You are a hiring assistant. The recruiter wants a short summary of this candidate for "
    "the panel: eight years of backend work in Go and Java, led a team of four, moved two "
    "services to Kubernetes, based in Porto and open to hybrid work."
)
_PANEL_REWORDED = (
    "Hiring assistant: summarise this candidate briefly for the interview panel. Eight years "
    "in backend engineering with Go and Java, lead of a four-person team, migrated a pair of "
    "services to Kubernetes, lives in Porto, happy with hybrid. Give it to the recruiter."
)
_PRINTER = (
    "Our warehouse team packs about 1,200 parcels a day with six packers on two shifts, and "
    "the manager wants to know whether to buy a second label printer. List the {} of buying "
    "one now, in plain words, for a short meeting."
)
_PRINTER_REWORDED = (
    "For a short meeting, in plain words: our warehouse ships roughly 1,200 parcels daily, "
    "six packers across two shifts, and the manager is deciding on a second label printer. "
    "List the {} of buying one now."
)


def test_opposite_words_in_other_places_of_two_long_prompts() -> None:
    assert _passed(_PANEL, _PANEL_REWORDED)
    assert _passed(_PRINTER.format("strengths"), _PRINTER_REWORDED.format("strengths"))
    assert not _passed(_PRINTER.format("strengths"), _PRINTER_REWORDED.format("weaknesses"))
