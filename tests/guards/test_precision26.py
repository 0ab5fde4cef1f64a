"""Loosely reworded traps (session 26): an exception on one side only, a quantifier said
another way (each, one of, are there, most of), "which <noun>" against a time or a
number, a modal said another way ("will I have to", "should you"), "this year" against
"last year", a request after a "Task:" label and "what does this code print". Pairs of
our own, not from any pair set. Each case is a triple: the stored prompt, a trap
(another answer: refused, naming the guard) and a true rewording (one answer: that guard
lets it through, and so does the whole verifier, either way round)."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import AskGuard, ScopeGuard, TaskGuard, Verifier

EMAIL = (
    "Email: 'Hi, the invoice for March was charged twice to our card ending 4411, "
    "please refund one of the payments. Thanks, Dana'"
)
HELPDESK = "You are a helpdesk agent for a billing team."
JS = "for (var i = 0; i < 3; i++) setTimeout(() => console.log(i), 0)"

# (guard, stored, trap, true rewording)
CASES = [
    # an exception on one side only
    (
        ScopeGuard,
        "Which countries border Germany?",
        "Apart from France, which countries border Germany?",
        "What countries share a border with Germany?",
    ),
    (
        ScopeGuard,
        "What toppings come on a margherita pizza?",
        "What goes on a margherita pizza other than basil?",
        "Which toppings does a margherita pizza have?",
    ),
    (
        ScopeGuard,
        "Give me the monthly sales for all regions.",
        "Monthly sales for all regions, leaving out the northern region.",
        "Show me the monthly sales for all regions.",
    ),
    (
        ScopeGuard,
        "Which planets have rings?",
        "Aside from Saturn, what planets are ringed?",
        "What planets have rings?",
    ),
    # a quantifier said another way
    (
        ScopeGuard,
        "Does every train to Leeds have a quiet coach?",
        "Are there trains to Leeds with a quiet coach?",
        "Do all trains to Leeds have a quiet coach?",
    ),
    (
        ScopeGuard,
        "Restart one of the worker containers.",
        "Restart every worker container.",
        "Restart one of the worker containers, please.",
    ),
    (
        ScopeGuard,
        "Do most employees in Germany get a 13th salary?",
        "Does every employee in Germany get a 13th salary?",
        "Do the majority of employees in Germany get a 13th salary?",
    ),
    (
        ScopeGuard,
        "Does each apartment in the building have a balcony?",
        "Do any apartments in the building have a balcony?",
        "Do all apartments in the building have a balcony?",
    ),
    # "which <noun>" against a time or a number
    (
        AskGuard,
        "When does the night bus to the airport leave?",
        "Which gate does the night bus to the airport leave from?",
        "What time does the night bus to the airport leave?",
    ),
    (
        AskGuard,
        "How many replicas does this Kafka topic have?",
        "Which broker holds the leader replica of this Kafka topic?",
        "What is the number of replicas of this Kafka topic?",
    ),
    # a modal said another way
    (
        AskGuard,
        "May I cancel the contract early?",
        "Will I have to cancel the contract early?",
        "Am I allowed to cancel the contract early?",
    ),
    (
        AskGuard,
        "Can I reheat cooked chicken twice?",
        "Should you reheat cooked chicken twice?",
        "Is it ok to reheat cooked chicken twice?",
    ),
    # the time asked about: "this year" is the present
    (
        AskGuard,
        "Which films are nominated for Best Picture this year?",
        "Which films were nominated for Best Picture last year?",
        "Which films are up for Best Picture this year?",
    ),
    # a request after a "Task:" label, acting on the fields before it
    (
        TaskGuard,
        f"{HELPDESK} {EMAIL} Task: summarise this email.",
        f"{HELPDESK} {EMAIL} Task: write a reply to the sender.",
        f"{HELPDESK} {EMAIL} Task: give me a summary of this email.",
    ),
    # what a question about a given text asks of it: its last verb after "does"
    (
        TaskGuard,
        f"Spot the error in this JavaScript: {JS}",
        f"What does this JavaScript snippet log: {JS}",
        f"Find the error in this JavaScript: {JS}",
    ),
]


@pytest.mark.parametrize(("guard", "stored", "trap", "true"), CASES)
def test_reworded_trap_is_refused_and_its_rewording_is_not(
    guard: type, stored: str, trap: str, true: str
) -> None:
    reason = guard().check(trap, stored)
    assert reason is not None, f"{guard.__name__} let through {trap!r} for {stored!r}"
    assert guard().check(stored, trap) is not None  # either way round
    assert guard().check(true, stored) is None, f"{guard.__name__} refused {true!r}"
    # and no guard refuses the true rewording, either way round
    assert Verifier().verify(true, stored) is None
    assert Verifier().verify(stored, true) is None


@pytest.mark.parametrize(
    ("case", "guard", "said"),
    [
        (0, "scope", ("an exception on one side only", "apart from france")),
        (4, "scope", ("quantifier differs", "all", "some")),
        (8, "asks", ("question differs", "which", "when")),
        (13, "task", ("task differs", "summarise", "write reply")),
    ],
)
def test_the_verifier_names_the_guard_and_its_reason(
    case: int, guard: str, said: tuple[str, ...]
) -> None:
    _, stored, trap, _ = CASES[case]
    rejection = Verifier().verify(trap, stored)
    assert rejection is not None and rejection.guard == guard
    assert all(part in rejection.reason for part in said), rejection.reason
