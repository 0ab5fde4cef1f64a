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


# Session 21: more ways a name is written short (pairs of our own, in no data set).
@pytest.mark.parametrize(
    ("a", "b"),
    [
        # an accented name, and a name going on after a hyphen in lower case
        ("Who leads the Confédération Africaine de Football?", "Who leads the CAF?"),
        ("Which states are in the Gulf Co-operation Council?", "Which states are in the GCC?"),
        # a possessive inside the name
        ("How do I contact Her Majesty's Passport Office?", "How do I contact HMPO?"),
        # a name and its version run together, the name cut short or to its capitals
        ("Does Win7 support TLS 1.2?", "Does Windows 7 support TLS 1.2?"),
        ("How do I port this script to py2?", "How do I port this script to Python 2?"),
        # the starts of the words blended; a digit counting a letter
        ("How do I cancel an AmEx card?", "How do I cancel an American Express card?"),
        ("What does the W3C publish?", "What does the World Wide Web Consortium publish?"),
        # an audience word inside a name the other side shortens
        (
            "Who qualifies for the Children's Health Insurance Program?",
            "Who qualifies for CHIP?",
        ),
        # a "non-" inside a term its initials stand for negates nothing
        ("Is a non-disclosure agreement binding?", "Is an NDA binding?"),
        # initials in capitals that a month shortens alike, spelt out on the other side
        (
            "Is a 29% APR on a store card high?",
            "Is a 29% annual percentage rate on a store card high?",
        ),
        # a name the other side abbreviates, beside another short name
        (
            "Can I fine-tune an LLM on AWS?",
            "Can I fine-tune a large language model on Amazon Web Services?",
        ),
    ],
)
def test_more_short_names_are_served_for_the_full_one(a: str, b: str) -> None:
    assert not refused(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # another version run together, or the same name with another version after it
        ("Does Win7 support TLS 1.2?", "Does Windows 8 support TLS 1.2?"),
        ("How do I port this script to py3?", "How do I port this script to Python 3.11?"),
        # a short name inside a longer name is that longer name ("VS Code")
        (
            "How do I install extensions in Visual Studio?",
            "How do I install extensions in VS Code?",
        ),
        # a group is the parent of the company its name names
        ("Who runs the Volkswagen Group?", "Who runs Volkswagen?"),
        # a mark the words drop: another product
        ("Is Apple TV+ worth it?", "Is Apple TV worth it?"),
        ("How do I sort a list in C++?", "How do I sort a list in C#?"),
        ("How do I sort a list in C?", "How do I sort a list in C#?"),
        # a "non-" outside any such term still negates
        ("Is a non-refundable NDA fee legal?", "Is a refundable NDA fee legal?"),
        # a month named besides the initials; another cloud beside the abbreviated one
        ("Did the APR change in April?", "Did the annual percentage rate change?"),
        (
            "Can I fine-tune an LLM on AWS?",
            "Can I fine-tune a large language model on Google Cloud?",
        ),
    ],
)
def test_another_version_or_a_marked_name_is_refused(a: str, b: str) -> None:
    assert refused(a, b)
