"""A thing's full name and its short name (and a texted "2" for "to"): served as one;
another model, edition or count refused."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier


def refused(a: str, b: str) -> bool:
    """Whether the rule guards refuse the pair, asked in both directions (they agree)."""
    verifier = Verifier()
    one, other = verifier.verify(a, b), verifier.verify(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a title or a street shortened
        (
            "Is the hike up Mt Washington hard in October?",
            "Is the hike up Mount Washington hard in October?",
        ),
        ("Who was St. Augustine?", "Who was Saint Augustine?"),
        ("Which shops are on Madison Ave?", "Which shops are on Madison Avenue?"),
        ("How big is the Met Museum?", "How big is the Metropolitan Museum?"),
        # initials with dots, and a middle initial inside a name its initialism spells
        ("What's the minimum wage in D.C.?", "What's the minimum wage in DC?"),
        (
            "Which speeches of Franklin D. Roosevelt are famous?",
            "Which speeches of FDR are famous?",
        ),
        # a sequel's number in Roman numerals
        ("Is Final Fantasy VII worth playing today?", "Is Final Fantasy 7 worth playing today?"),
        # a particle inside a person's name names no group
        ("Where did Ludwig van Beethoven live in Vienna?", "Where did Beethoven live in Vienna?"),
        # a maker before the name, a kind after it
        ("How do I add a column in Microsoft Word?", "How do I add a column in Word?"),
        ("How do I get to Gatwick Airport by train?", "How do I get to Gatwick by train?"),
        ("How wide is the Mississippi River?", "How wide is the Mississippi?"),
        ("Who owns Tesco PLC?", "Who owns Tesco?"),  # a company's legal form
        # a texted digit for a word
        (
            "how do i get 2 the stadium from the station",
            "How do I get to the stadium from the station?",
        ),
        (
            "thx 4 the help, how do i reset my modem",
            "Thanks for the help, how do I reset my modem?",
        ),
    ],
)
def test_a_short_name_is_served_for_the_full_one(a: str, b: str) -> None:
    assert not refused(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # another edition after a model number, or a word naming no kind after the name
        (
            "What is the battery life of the Pixel 8 Pro?",
            "What is the battery life of the Pixel 8?",
        ),
        ("How much does the Galaxy Tab S9 FE cost?", "How much does the Galaxy Tab S9 cost?"),
        ("Does the Kindle Paperwhite have a backlight?", "Does the Kindle have a backlight?"),
        # a place after a comma narrows the name before it
        ("What's the weather in Paris, Texas in May?", "What's the weather in Paris in May?"),
        # another sequel, in Roman numerals or not; another saint
        ("Is Final Fantasy VII worth playing today?", "Is Final Fantasy 8 worth playing today?"),
        ("Who was St. Augustine?", "Who was St. Ambrose?"),
        # an acronym inside a name stays whole: USPS, not UPS
        ("Does the US Postal Service deliver on Sundays?", "Does UPS deliver on Sundays?"),
        # a count dropped beside a "to" or "for" the digit does not stand for
        ("Plan a trip to 2 cities in Spain", "Plan a trip to cities in Spain"),
        ("Book 2 seats to Lisbon", "Book seats to Lisbon"),
        ("Can you post 4 samples for me?", "Can you post samples for me?"),
    ],
)
def test_another_model_edition_name_or_count_is_refused(a: str, b: str) -> None:
    assert refused(a, b)
