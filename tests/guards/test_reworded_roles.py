"""Traps that reword what changes (issue 14's remaining kinds), each beside a true pair
that looks alike, on pairs written for these tests: a negation implied by a verb
("refuses to", "lacks"), another task on the same pasted text, roles exchanged inside a
relative clause, and opposite verbs of one event ("lend" / "borrow") with the same doer."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import (
    AntonymGuard,
    ArgumentGuard,
    Guard,
    NegationGuard,
    TaskGuard,
    Verifier,
)


def rejects(guard: Guard, a: str, b: str) -> str | None:
    """The reason ``guard`` refuses, checked in both directions (guards are symmetric)."""
    one, other = guard.check(a, b), guard.check(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one


# (stored, trap, true pair): the trap differs in one respect, the true pair says the same


IMPLIED_NEGATIONS = [
    (
        "My bread machine refuses to knead the dough, why?",
        "My bread machine kneads the dough, why?",
        "My bread machine won't knead the dough, why?",
    ),
    (
        "My kitten lacks an appetite after her vaccine, is that normal?",
        "My kitten has an appetite after her vaccine, is that normal?",
        "My kitten has no appetite after her vaccine, is that normal?",
    ),
    (
        "The border clerk forgot to stamp my passport, is that a problem?",
        "The border clerk stamped my passport, is that a problem?",
        "The border clerk didn't stamp my passport, is that a problem?",
    ),
    (
        "What happens if the witness declines to testify?",
        "What happens if the witness testifies?",
        "What happens if the witness won't testify?",
    ),
    (
        "Can I be fined if my accountant neglected to submit the return?",
        "Can I be fined if my accountant submitted the return?",
        "Can I be fined if my accountant did not submit the return?",
    ),
]


@pytest.mark.parametrize(("stored", "trap", "same"), IMPLIED_NEGATIONS)
def test_a_verb_that_says_no_counts_as_a_negator(stored: str, trap: str, same: str) -> None:
    reason = rejects(NegationGuard(), stored, trap)
    assert reason is not None and "says no" in reason
    assert rejects(NegationGuard(), stored, same) is None


def test_a_refusal_inside_an_error_code_on_the_other_side_is_no_negation() -> None:
    guard = NegationGuard()
    assert (
        rejects(guard, "Port 8080 refused to connect in Firefox", "Firefox: port 8080 works")
        is not None
    )
    assert (
        rejects(
            guard,
            "Port 8080 refused to connect in Firefox",
            "Firefox shows ERR_CONNECTION_REFUSED for port 8080",
        )
        is None
    )


NOTE = (
    "Quarterly sales fell 8% in the northern region while online orders doubled, and the "
    "board asked for a plan by June."
)
TRACE = (
    'Traceback (most recent call last):\n  File "job.py", line 9, in run\n'
    "    total = sum(prices) / count\nZeroDivisionError: division by zero"
)
CONFIG = "server:\n  port: 8080\n  workers: 4\nlogging:\n  level: debug"

ANOTHER_TASK = [
    (
        f"Proofread the following note: {NOTE}",
        f"Continue the following note: {NOTE}",
        f"Please proofread the following note: {NOTE}",
    ),
    (
        f"Explain this stack trace:\n{TRACE}",
        f"Fix this stack trace:\n{TRACE}",
        f"What does this stack trace mean?\n{TRACE}",
    ),
    (
        f"Review this config:\n{CONFIG}",
        f"Document this config:\n{CONFIG}",
        f"Critique this config:\n{CONFIG}",
    ),
    (
        f"Summarize this note in one line: {NOTE}",
        f"Dramatize this note in one line: {NOTE}",
        f"Summarise this note in one line: {NOTE}",
    ),
    (
        f"Convert this config to TOML:\n{CONFIG}",
        f"Validate this config:\n{CONFIG}",
        f"Port this config to TOML:\n{CONFIG}",
    ),
]


@pytest.mark.parametrize(("stored", "trap", "same"), ANOTHER_TASK)
def test_another_instruction_on_the_same_text_is_another_task(
    stored: str, trap: str, same: str
) -> None:
    reason = rejects(TaskGuard(), stored, trap)
    assert reason is not None and reason.startswith(("another task on the same text", "task"))
    assert rejects(TaskGuard(), stored, same) is None


RELATIVE_CLAUSES = [
    (
        "What is the name of the dog that bit Max?",
        "What is the name of the dog Max bit?",
        "What is the name of the dog which bit Max?",
    ),
    (
        "Find the accounts that blocked @spacex last week",
        "Find the accounts that @spacex blocked last week",
        "Find the accounts who blocked @spacex last week",
    ),
    (
        "Which is the club that signed Haaland in 2022?",
        "Which is the club Haaland signed in 2022?",
        "Which is the club which signed Haaland in 2022?",
    ),
]


@pytest.mark.parametrize(("stored", "trap", "same"), RELATIVE_CLAUSES)
def test_roles_exchanged_inside_a_relative_clause(stored: str, trap: str, same: str) -> None:
    reason = rejects(ArgumentGuard(), stored, trap)
    assert reason is not None and "relative clause" in reason
    assert rejects(ArgumentGuard(), stored, same) is None


CONVERSES = [
    (
        "My uncle sold me his old tractor; do I owe VAT?",
        "My uncle bought an old tractor from me; do I owe VAT?",
        "I bought my uncle's old tractor; do I owe VAT?",
    ),
    (
        "Our club lent the school twenty chairs for the fair",
        "Our club borrowed twenty chairs from the school for the fair",
        "The school borrowed twenty chairs from our club for the fair",
    ),
    (
        "Does breakfast precede the keynote on day one?",
        "Does breakfast follow the keynote on day one?",
        "Does the keynote follow breakfast on day one?",
    ),
]


@pytest.mark.parametrize(("stored", "trap", "same"), CONVERSES)
def test_opposite_verbs_of_one_event_need_the_roles_exchanged(
    stored: str, trap: str, same: str
) -> None:
    reason = rejects(AntonymGuard(), stored, trap)
    assert reason is not None and "WordNet antonyms" in reason
    assert rejects(AntonymGuard(), stored, same) is None


def test_the_default_verifier_names_each_new_reason() -> None:
    verifier = Verifier()
    cases = [
        (IMPLIED_NEGATIONS[0][:2], "negation"),
        (ANOTHER_TASK[1][:2], "task"),
        (RELATIVE_CLAUSES[0][:2], "argument"),
        (CONVERSES[1][:2], "antonym"),
    ]
    for (stored, trap), guard in cases:
        rejection = verifier.verify(trap, stored)
        assert rejection is not None and rejection.guard == guard, (trap, rejection)
