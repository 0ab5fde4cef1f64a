"""Loosely reworded traps (session 25): another task on one given text, a question word
said another way, a negation said without "not", a passive turned with a synonym verb.
Pairs of our own, not from any pair set. Each case is a triple: the stored prompt, a trap
(another answer: refused, naming the guard) and a true rewording (one answer: that guard
lets it through)."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import (
    ArgumentGuard,
    AskGuard,
    NegationGuard,
    ScopeGuard,
    TaskGuard,
    Verifier,
)

SENTENCE = "The shipment left Rotterdam on Monday and reaches Boston nine days later."
COMMAND = "tar -czf backup.tgz /srv/data --exclude '*.tmp'"
NOTICE = "The pool closes at 6pm on weekdays and children must be accompanied by an adult."
HAIKU = "Cold rain on the roof / the kettle starts its slow song / nobody is home"
REVIEW = "The hotel room was spotless but the breakfast ran out before nine."

# (guard, stored, trap, true rewording)
CASES = [
    # a question about the text / an instruction on it: another task
    (
        TaskGuard,
        f"Which cities are mentioned in this sentence: {SENTENCE}",
        f"Translate this sentence into Italian: {SENTENCE}",
        f"List the cities named in this sentence: {SENTENCE}",
    ),
    (
        TaskGuard,
        f"What does this shell command do: {COMMAND}",
        f"Rewrite this shell command so it also skips log files: {COMMAND}",
        f"Explain this shell command: {COMMAND}",
    ),
    # the request first, the text on the lines after it
    (
        TaskGuard,
        f"Summarise the following notice.\n\n{NOTICE}",
        f"Who wrote the following notice.\n\n{NOTICE}",
        f"Give me a summary of the following notice.\n\n{NOTICE}",
    ),
    # two tasks (joined by "and then") / one
    (
        TaskGuard,
        f"Please translate into French this notice: {NOTICE}",
        f"Please summarise and then translate into French this notice: {NOTICE}",
        f"Translate into French this notice: {NOTICE}",
    ),
    # what "give this haiku a ..." makes
    (
        TaskGuard,
        f"Give this haiku a title: {HAIKU}",
        f"Give this haiku a score out of ten: {HAIKU}",
        f"Suggest a title for this haiku: {HAIKU}",
    ),
    # one more thing read off the same text
    (
        TaskGuard,
        f"Detect the tone of this review: {REVIEW}",
        f"Detect the tone and language of this review: {REVIEW}",
        f"Identify the tone of this review: {REVIEW}",
    ),
    # question kinds said with a preposition or "ago"
    (
        AskGuard,
        "Why did my bread collapse in the oven?",
        "Since when has my bread been collapsing in the oven?",
        "How come my bread collapsed in the oven?",
    ),
    (
        AskGuard,
        "Who should I send the reimbursement form to?",
        "By what date should I send the reimbursement form?",
        "To whom should I send the reimbursement form?",
    ),
    (
        AskGuard,
        "How long did the Apollo 11 mission last?",
        "How long ago did the Apollo 11 mission end?",
        "For how long did the Apollo 11 mission last?",
    ),
    (
        AskGuard,
        "Who built the Golden Gate Bridge?",
        "What did the Golden Gate Bridge cost to build?",
        "Which company built the Golden Gate Bridge?",
    ),
    (
        AskGuard,
        "Which team won the 1998 final?",
        "By how many points was the 1998 final won?",
        "What team won the 1998 final?",
    ),
    # a negation said without "not"
    (
        NegationGuard,
        "Which countries support the treaty?",
        "Which countries have yet to support the treaty?",
        "Which countries back the treaty?",
    ),
    (
        ScopeGuard,
        "Which dishes are served at the festival?",
        "Which dishes other than dumplings are served at the festival?",
        "What dishes are served at the festival?",
    ),
    # a passive with another verb for the act
    (
        ArgumentGuard,
        "Did Pfizer acquire Seagen?",
        "Was Pfizer bought by Seagen?",
        "Was Seagen bought by Pfizer?",
    ),
]


@pytest.mark.parametrize(("guard", "stored", "trap", "true"), CASES)
def test_loose_trap_is_refused_and_its_rewording_is_not(
    guard: type, stored: str, trap: str, true: str
) -> None:
    reason = guard().check(trap, stored)
    assert reason is not None, f"{guard.__name__} let through {trap!r} for {stored!r}"
    assert guard().check(stored, trap) is not None  # either way round
    assert guard().check(true, stored) is None, f"{guard.__name__} refused {true!r}: {reason}"
    # and no guard refuses the true rewording, either way round
    assert Verifier().verify(true, stored) is None
    assert Verifier().verify(stored, true) is None


def test_the_verifier_names_the_guard_and_both_requests() -> None:
    _, stored, trap, _ = CASES[1]
    rejection = Verifier().verify(trap, stored)
    assert rejection is not None and rejection.guard == "task"
    assert "rewrite" in rejection.reason and "explain" in rejection.reason
