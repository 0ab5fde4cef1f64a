"""Near repeats that differ only by misspelt words skip the pair scorer, which reads word
pieces and refused them; real words, product names and code still go to it."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import default_verifier
from redis_agent_core.cache.guards._spelling import same_but_spelling

SLIPS = [
    (
        "how do I reset my router to factory settings?",
        "how do i reset my ruoter to factory setings",
    ),
    (
        "Summarize this article in three bullet points",
        "Sumarize this artcle in three bullet points",
    ),
    ("what is the best way to store fresh basil", "what is the best way to stroe fresh basil"),
    ("why does my cat keep scratching the sofa", "why does my cat keep scrathing the sofa??"),
    ("what is the baggage allowance on this route", "what is the bagage allowence on this route"),
    ("how do I cancel my gym membership", "hi, how do I cancell my gym membership pls"),
]

NOT_SLIPS = [
    # two real words: another request, the scorer's and the guards' to judge
    ("what is a good dessert wine", "what is a good desert wine"),
    ("how do I fill in the form", "how do I fill in the from"),
    # a product name against a word, a slip at the last letter or an extra letter that
    # is no doubling: as often a name as a typo
    ("what is scala used for", "what is scale used for"),
    ("how do I install redis on a laptop", "how do I install reds on a laptop"),
    ("explain subnet masks to a beginner", "explain subset masks to a beginner"),
    # digits, code names: the comparison of words would drop what differs
    ("rename created_at in the orders table", "rename createdat in the orders table"),
    ("what changed in version 3 of the api", "what changed in verison 4 of the api"),
    # too many slips for the words there are, or words added
    ("recomend a begginer telescpoe", "recommend a beginner telescope"),
    ("how do I cancel my gym membership", "how do I cancell my old gym membership"),
]


@pytest.mark.parametrize(("a", "b"), SLIPS)
def test_misspelt_words_alone_are_a_repeat(a: str, b: str) -> None:
    assert same_but_spelling(a, b)
    assert same_but_spelling(b, a)


@pytest.mark.parametrize(("a", "b"), NOT_SLIPS)
def test_other_words_are_not_taken_for_slips(a: str, b: str) -> None:
    assert not same_but_spelling(a, b)
    assert not same_but_spelling(b, a)


@pytest.mark.parametrize(("stored", "asked"), SLIPS[:2])
def test_a_misspelt_repeat_is_served_though_the_scorer_would_refuse_it(
    stored: str, asked: str
) -> None:
    pytest.importorskip("onnxruntime")
    verifier = default_verifier()
    assert verifier.scorer is not None
    # what the scorer says of the pair alone (0.00-0.01 in one order for these): it
    # would refuse
    assert verifier.scorer.rejects(stored, asked) or verifier.scorer.rejects(asked, stored)
    assert verifier.verify(asked, stored) is None
    assert verifier.verify(stored, asked) is None


def test_a_product_name_against_a_word_is_still_judged() -> None:
    pytest.importorskip("onnxruntime")
    assert default_verifier().verify("what is scale used for", "what is scala used for")
