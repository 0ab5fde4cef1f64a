"""Misspelt words and short names are shown to the pair scorer as the other side writes
them (it refused such repeats as written), while the rest of the pair is still judged."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import PairScorer, Verifier, default_verifier
from redis_agent_core.cache.guards._respell import respelt


def _pairs(table: str) -> list[tuple[str, str]]:
    """``a | b`` a line; a ``#`` line says why."""
    rows = [line.split(" | ") for line in table.strip().splitlines() if "|" in line]
    return [(a.strip(), b.strip()) for a, b in rows]


# a slip in a word (up to two edits in one of 7 letters or more); initials in capitals
# against the words they abbreviate, an article either side
REWRITTEN = _pairs("""
salary of a pharmasist | salary of a pharmacist
good excercises for a stiff neck | good exercises for a stiff neck
how do I reset my ruoter at home | how do I reset my router at home
my flight was cancelled | my flight was canceled
Is an SSD faster? | Is a solid state drive faster?
The WHO's advice | The World Health Organization's advice
When does UCLA open? | When does the University of California, Los Angeles open?
""")

LEFT = _pairs("""
# two real words
a good dessert wine for cheese | a good desert wine for cheese
how long to boil potatoes | how long to broil potatoes
filing taxes | filling taxes
# a word too short to tell a slip from another word
how to tie a tei | how to tie a tie
# letters added at a word's end, a name in mixed case
migrate it to angularjs | migrate it to angular
migrate it to AngularJS | migrate it to Angular
# a product name against a word, a slip at a short word's end
install redis on a laptop | install reds on a laptop
how to learn golang quickly | how to learn golan quickly
# two letters name too many things: which manager, which airline?
the salary of a PM? | the salary of a project manager?
the bag fee on AA? | the bag fee on Alaska Airlines?
# not the initials of the words in their place
the AA's cover | the American Automobile Association's cover
perform CPR on a baby | perform cardiopulmonary resuscitation on a baby
""")


@pytest.mark.parametrize(("a", "b"), REWRITTEN)
def test_misspelt_words_and_short_names_are_written_as_the_other_side(a: str, b: str) -> None:
    for x, y in ((a, b), (b, a)):
        one, other = respelt(x, y)
        assert one.lower().split() == other.lower().split(), (x, y)


@pytest.mark.parametrize(("a", "b"), LEFT)
def test_other_words_are_left_as_written(a: str, b: str) -> None:
    assert respelt(a, b) == (a, b)
    assert respelt(b, a) == (b, a)


def test_only_the_misspelt_place_is_rewritten() -> None:
    assert respelt(
        "How long do ADHD medications last?",
        "How long do attention deficit hyperactivity disorder assessments last?",
    ) == (
        "How long do attention deficit hyperactivity disorder medications last?",
        "How long do attention deficit hyperactivity disorder assessments last?",
    )


def test_the_scorer_judges_the_pair_as_the_other_side_writes_it() -> None:
    pytest.importorskip("onnxruntime")
    # a strict cut: the scorer refuses these as written (the former scorer did at its own
    # cut, 0.00-0.01; the session 27 one gives some of them 0.8-0.9)
    verifier = Verifier(scorer=PairScorer(threshold=0.99))
    served = {
        "What is the average salary of a pharmasist?": "What is the average salary of a "
        "pharmacist?",
        "What are good excercises for lower back pain?": "What are good exercises for lower "
        "back pain?",
        "What are the early signs of ADHD in adults?": "What are the early signs of attention "
        "deficit hyperactivity disorder in adults?",
        "What is the contribution limit for an IRA?": "What is the contribution limit for an "
        "individual retirement account?",
    }
    for asked, stored in served.items():
        # the scorer refuses the pair as written (0.00-0.01 here) ...
        assert verifier.scorer.rejects(stored, asked)
        # ... and the verifier serves it, both ways round
        assert verifier.verify(asked, stored) is None
        assert verifier.verify(stored, asked) is None
    # the rest of a pair is still judged: another thing asked about the same name
    for asked, stored in RESPELT_YET_OTHER.items():
        assert verifier.verify(asked, stored) is not None
        assert verifier.verify(stored, asked) is not None


# respelt, the rest of the pair still asks another thing
RESPELT_YET_OTHER = {
    "How long do ADHD medications last?": "How long do attention deficit hyperactivity "
    "disorder assessments last?",
    "Which excercises help lower back pain?": "Which exercises make lower back pain worse?",
}


def _refused_both_ways(asked: str, stored: str) -> None:
    assert default_verifier().verify(asked, stored) is not None
    assert default_verifier().verify(stored, asked) is not None


def test_the_default_scorer_refuses_a_respelt_pair_that_asks_another_thing() -> None:
    pytest.importorskip("onnxruntime")
    _refused_both_ways(*next(iter(RESPELT_YET_OTHER.items())))  # ADHD medications / assessments


def test_the_default_scorer_refuses_help_against_make_worse() -> None:
    # the session 29 scorer: 0.74-0.78, under its cut 0.9 (session 28 served it at 0.92-0.93)
    pytest.importorskip("onnxruntime")
    _refused_both_ways(*list(RESPELT_YET_OTHER.items())[1])
