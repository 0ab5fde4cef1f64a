"""Swapped roles that keep every word in its place, and a number bounded the other way
(argnum19), on pairs written for these tests: a passive with its doer against the active
verb, owner and owned traded around "'s", and "over N" / "below N"."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import AntonymGuard, ArgumentGuard, Verifier

from .test_relations import rejects


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # the same words in the same places, the roles the other way round
        (
            "my parrot keeps pecking my kitten, help",
            "my parrot keeps getting pecked by my kitten, help",
            False,
        ),
        (
            "the intern was blamed by the director for the outage",
            "the intern blamed the director for the outage",
            False,
        ),
        (
            "was the bakery bought by the supermarket chain?",
            "did the bakery buy the supermarket chain?",
            False,
        ),
        ("can a shark be eaten by an orca?", "can a shark eat an orca?", False),
        (
            "my landlord is being sued by the tenant next door",
            "my landlord is suing the tenant next door",
            False,
        ),
        # the same roles, one side passive: still one question
        (
            "my parrot keeps getting pecked by my kitten, help",
            "my kitten keeps pecking my parrot, help",
            True,
        ),
        (
            "the intern was blamed by the director for the outage",
            "the director blamed the intern for the outage",
            True,
        ),
        (
            "was the bakery bought by the supermarket chain?",
            "did the supermarket chain buy the bakery?",
            True,
        ),
        (
            "my landlord is being sued by the tenant next door",
            "the tenant next door is suing my landlord",
            True,
        ),
        # a phrasal verb's particle before "by", an irregular past on the other side
        ("the startup was bought out by its rival", "the startup bought out its rival", False),
        ("the old mill was taken over by the council", "the old mill took over the council", False),
        ("the old mill was taken over by the council", "the council took over the old mill", True),
        # "by" and a measure or a deadline names no doer
        (
            "my train was delayed by 40 minutes, can I claim?",
            "my train delayed 40 minutes, can I claim?",
            True,
        ),
    ],
)
def test_a_passive_against_the_active_verb_turns_the_roles(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) is same
    assert (Verifier().verify(a, b) is None) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "what do I call my uncle's wife in Spanish?",
            "what do I call my wife's uncle in Spanish?",
            False,
        ),
        (
            "can the teacher's student grade the exam?",
            "can the student's teacher grade the exam?",
            False,
        ),
        ("my cat's groomer cancelled again", "my groomer's cat cancelled again", False),
        (
            "how do I change the project's team owner in GitLab?",
            "how do I change the team's project owner in GitLab?",
            False,
        ),
        # the same owner of the same thing, said another way
        (
            "what do I call my uncle's wife in Spanish?",
            "in Spanish, what is my uncle's wife called?",
            True,
        ),
        ("my cat's groomer cancelled again", "the groomer of my cat cancelled again", True),
        # no "'s" on a side: two neighbours swapped are left to the other rules
        ("london weather tomorrow", "weather london tomorrow", True),
    ],
)
def test_owner_and_owned_traded_around_s(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) is same
    assert (Verifier().verify(a, b) is None) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("restaurants open over 22 hours a day", "restaurants open below 22 hours a day", False),
        ("keep the fridge above 3 degrees", "keep the fridge under 3 degrees", False),
        (
            "list accounts with no more than 4 logins",
            "list accounts with more than 4 logins",
            False,
        ),
        ("list accounts with no more than 4 logins", "list accounts with at most 4 logins", True),
        ("a hotel below 90 euros a night", "a hotel under 90 euros a night", True),
        ("a hotel below 90 euros a night", "a hotel under ninety euros a night", True),
    ],
)
def test_the_same_number_bounded_the_other_way(a: str, b: str, same: bool) -> None:
    assert (Verifier().verify(a, b) is None) is same
    if not same:
        assert Verifier().verify(a, b) is not None


def test_a_bound_turned_is_the_antonym_guards() -> None:
    reason = rejects(AntonymGuard(), "cars faster than 200 km/h", "cars over 200 km/h")
    assert reason is None  # one direction on both sides: no turn
    reason = rejects(AntonymGuard(), "laptops over 2 kg", "laptops below 2 kg")
    assert reason is not None and "bound" in reason


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "is a 15 percent service charge normal in Rome?",
            "is a 15% service charge normal in Rome?",
            True,
        ),
        (
            "is a 15 percent service charge normal in Rome?",
            "is a 12% service charge normal in Rome?",
            False,
        ),
        # a word that is no unit still narrows the noun after the number
        ("give me 10 tips for sleep", "give me 10 herbal tips for sleep", False),
    ],
)
def test_a_unit_after_a_number_narrows_nothing(a: str, b: str, same: bool) -> None:
    assert (Verifier().verify(a, b) is None) is same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "I took a ladder from my uncle and lost it",
            "my uncle took a ladder from me and lost it",
            False,
        ),
        (
            "we rented a van from our friends last week",
            "our friends rented a van from us last week",
            False,
        ),
        # "by me": the speaker does it in the passive, as in the active form
        (
            "should I bill clients for travel time?",
            "should clients be billed for travel time by me?",
            True,
        ),
    ],
)
def test_the_speaker_as_object_a_few_words_after_the_verb(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) is same
