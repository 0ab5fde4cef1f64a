"""Who does what to whom, and a quality added on one side (cons24), on pairs written for
these tests: a question's subject of several words ("did Real Madrid knock out"), a verb
in an irregular form on one side ("bought" / "buy"), "have" as the verb before a noun
("has the best sound"), a passive question with a subject of several words, and an
adjective that is also a verb added before a shared noun ("free parking")."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import ArgumentGuard, ScopeGuard, Verifier

from .test_relations import rejects


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a name of several words asks who it did something to, the other side who did it
        # to that name
        (
            "Which club did Real Madrid knock out in 2017?",
            "Which club knocked out Real Madrid in 2017?",
        ),
        ("Who did Anna Karenina love?", "Who loved Anna Karenina?"),
        # one name alone, the question asking for the doer on one side and for whom it
        # was done to on the other, the verb in its past form there
        ("Who taught Aristotle?", "Who did Aristotle teach?"),
        (
            "Who preceded Abraham Lincoln as president?",
            "Who did Abraham Lincoln precede as president?",
        ),
        # a preposition left after the verb before another phrase ("lose to in 2016")
        (
            "Which singer did Elton John write for in 1970?",
            "Which singer wrote for Elton John in 1970?",
        ),
        (
            "Who did Serena Williams lose to in the 2016 final?",
            "Who lost to Serena Williams in the 2016 final?",
        ),
        # the verb in another form on each side
        (
            "Which company did General Motors buy in 2016?",
            "Which company bought General Motors in 2016?",
        ),
        (
            "Which team has Liverpool beaten most often?",
            "Which team has beaten Liverpool most often?",
        ),
    ],
)
def test_who_did_it_against_whom_it_was_done_to(a: str, b: str) -> None:
    reason = rejects(ArgumentGuard(), a, b)
    assert reason is not None and "roles differ" in reason
    assert Verifier().verify(a, b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # "have" with a noun after it is the verb, not an auxiliary: the same question
        ("Which perfume smells the nicest?", "Which perfume has the nicest smell?"),
        ("Which headphones sound the best?", "Which headphones have the best sound?"),
        # a passive question whose subject is several words, against the active verb
        (
            "Was the Sistine Chapel ceiling painted by Michelangelo?",
            "Did Michelangelo paint the Sistine Chapel ceiling?",
        ),
        ("Was the telephone patent filed by Bell?", "Did Bell file the telephone patent?"),
        (
            "Were the new parking rules approved by the council?",
            "Did the council approve the new parking rules?",
        ),
        ("Who taught Aristotle?", "Who was Aristotle taught by?"),
        (
            "Who did Serena Williams lose to in the 2016 final?",
            "In the 2016 final, who did Serena Williams lose to?",
        ),
        # a common noun before the verb is no name: "a snake plant need" is no subject
        ("How often does a snake plant need watering?", "How often should I water a snake plant?"),
        # the irregular verb's lemma pivots, and the passive is undone
        (
            "Which company did General Motors buy in 2016?",
            "Which company was bought by General Motors in 2016?",
        ),
    ],
)
def test_the_same_roles_said_another_way_pass(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is None
    assert Verifier().verify(a, b) is None


@pytest.mark.parametrize(
    ("a", "b", "word"),
    [
        ("Show me quiet cafes in Soho", "Show me cafes in Soho", "quiet"),
        (
            "Are there free parking spots near the stadium?",
            "Are there parking spots near the stadium?",
            "free",
        ),
        ("Order dry dog food online", "Order dog food online", "dry"),
        ("Book direct trains from Paris to Lyon", "Book trains from Paris to Lyon", "direct"),
        # a figure ending a row, then the question: "750.00 total rent" narrows nothing
        (
            "receipts:\n2024-05-04,rent,750.00\n\ntotal rent paid?",
            "receipts:\n2024-05-04,rent,750.00\n\nhow much rent did I pay?",
            None,
        ),
    ],
)
def test_an_adjective_that_is_also_a_verb_narrows(a: str, b: str, word: str | None) -> None:
    reason = rejects(ScopeGuard(), a, b)
    if word is None:
        assert reason is None
        return
    assert reason is not None and f"{word!r} narrows" in reason
    assert Verifier().verify(a, b) is not None
