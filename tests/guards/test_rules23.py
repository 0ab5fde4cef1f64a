"""Traps the guards served and true pairs they refused (rules23), on pairs written for
these tests: the two ends of one handing over with the same doer ("give" / "receive",
"teach" / "learn"), a call's arguments in another order, and numbers written two ways
("two dozen" / "24", "twenty-first" / "21st", "half an hour" / "30 minutes", "1k")."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import (
    AntonymGuard,
    EntityGuard,
    NumberGuard,
    SubstitutionGuard,
    Verifier,
)
from redis_agent_core.cache.guards._features import same_but_numerals

from .test_relations import rejects


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # the same doer at the other end: the opposite event
        (
            "can a nurse give vaccines to patients at home?",
            "can a nurse receive vaccines from patients at home?",
            False,
        ),
        ("how do I teach chess to kids?", "how do I learn chess from kids?", False),
        ("how can my shop send stock to Amazon?", "how can my shop get stock from Amazon?", False),
        (
            "did my grandmother gift the ring to my aunt?",
            "did my grandmother receive the ring from my aunt?",
            False,
        ),
        # the doers exchanged: one event told from both ends
        (
            "my uncle gave me his old car, is it taxed?",
            "I received my uncle's old car from him, is it taxed?",
            True,
        ),
        ("my sister taught me knitting", "I learned knitting from my sister", True),
        # "get" for a present is no receiving: "what should I get my dad" is what to give
        (
            "what should I give my dad for Christmas?",
            "what should I get my dad for Christmas?",
            True,
        ),
        # one end on both sides, reworded
        (
            "can a nurse give vaccines to patients at home?",
            "are nurses allowed to give patients vaccines at home?",
            True,
        ),
    ],
)
def test_the_two_ends_of_one_handing_over(a: str, b: str, same: bool) -> None:
    assert (rejects(AntonymGuard(), a, b) is None) is same
    assert (Verifier().verify(a, b) is None) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("what does zip(keys, values) build?", "what does zip(values, keys) build?", False),
        (
            "why is math.atan2(y, x) negative here?",
            "why is math.atan2(x, y) negative here?",
            False,
        ),
        ("explain re.sub(pattern, repl, text)", "explain re.sub(repl, pattern, text)", False),
        # the same call, reworded around it; another call's arguments are the code guard's
        ("what does zip(keys, values) build?", "what do I get from zip(keys, values)?", True),
        ("explain max(a, b) and min(b, a)", "explain max(a, b) and min(b, a) please", True),
    ],
)
def test_a_calls_arguments_in_another_order(a: str, b: str, same: bool) -> None:
    assert (rejects(EntityGuard(), a, b) is None) is same
    assert (Verifier().verify(a, b) is None) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "is two dozen roses too many for a first date?",
            "is 24 roses too many for a first date?",
            True,
        ),
        (
            "is two dozen roses too many for a first date?",
            "is 12 roses too many for a first date?",
            False,
        ),
        (
            "what happened in the thirty-third year of his reign",
            "what happened in the 33rd year of his reign",
            True,
        ),
        ("plan a fortieth birthday party", "plan a 40th birthday party", True),
        ("plan a fortieth birthday party", "plan a 50th birthday party", False),
        (
            "is half an hour of reading a day enough?",
            "is 30 minutes of reading a day enough?",
            True,
        ),
        (
            "is half an hour of reading a day enough?",
            "is 60 minutes of reading a day enough?",
            False,
        ),
        ("bake it for a quarter of an hour", "bake it for 15 minutes", True),
        ("bake it for three quarters of an hour", "bake it for 45 minutes", True),
        ("the drive takes two and a half hours", "the drive takes 150 minutes", True),
        ("the drive takes an hour and a half", "the drive takes 90 min", True),
        ("the drive takes an hour and a half", "the drive takes 60 min", False),
        (
            "how to reach 5k subscribers on YouTube",
            "how to reach 5000 subscribers on YouTube",
            True,
        ),
        (
            "how to reach 5k subscribers on YouTube",
            "how to reach 500 subscribers on YouTube",
            False,
        ),
        (
            "how to reach 5k subscribers on YouTube",
            "how to reach 50,000 subscribers on YouTube",
            False,
        ),
    ],
)
def test_numbers_written_two_ways(a: str, b: str, same: bool) -> None:
    assert (rejects(NumberGuard(), a, b) is None) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("convert five miles to km", "convert 5 miles to km", True),
        # the signs between the words differ: another question, the scorer judges it
        ("filter the rows where age > thirty", "filter the rows where age < thirty", False),
        ("shift every date by +two days", "shift every date by -two days", False),
        ("is x >= ten here", "is x <= ten here", False),
        # a quantity written another way: the scorer's to judge (serving such pairs
        # without it served a number trap of a held-out set)
        (
            "is half an hour of reading a day enough?",
            "is 30 minutes of reading a day enough?",
            False,
        ),
    ],
)
def test_a_repeat_with_numbers_in_words_skips_the_scorer_only_with_the_same_signs(
    a: str, b: str, same: bool
) -> None:
    # the pair scorer reads the spelling and refused such repeats; the guards compared the
    # numbers, words do not show a comparison or a sign
    assert same_but_numerals(a, b) is same
    assert same_but_numerals(b, a) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "how long does soup keep in the fridge?",
            "how long does soup keep in the freezer?",
            False,
        ),
        ("should the freezer be set to -18C?", "should the fridge be set to -18C?", False),
        (
            "how long does soup keep in the fridge?",
            "how long does soup keep in the refrigerator?",
            True,
        ),
    ],
)
def test_the_freezer_is_no_narrower_fridge(a: str, b: str, same: bool) -> None:
    assert (rejects(SubstitutionGuard(), a, b) is None) is same
