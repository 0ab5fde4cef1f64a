"""True pairs the negation, scope, antonym, number and substitution guards refused (recall25),
on long prompts said in other words, each beside traps of the same look that must still be
refused: "nothing but X" / "only X", "without any X" / "zero X", "leave X out" / "not X",
"without X or Y" / "X-free, Y-free", "can't weigh more than" / "at most", a "not ... any"
read as "every", "do not change" as "keep the same", a speech verb introducing a quote ("The
guest asks:") against "answer", a giver's verb in the passive against the receiver's ("be
given" / "receive"), and two comparatives about different numbers ("older than 2019" /
"younger than 3")."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import Verifier


def _served(a: str, b: str) -> bool:
    """Whether the guards (no scorer) serve ``b``'s answer to ``a``, asked both ways."""
    one, other = Verifier().verify(a, b), Verifier().verify(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one is None


INVOICE = "Answer using nothing but the attached invoice: what is the total amount due?"
GUIDE = (
    "You are a museum guide who talks about the paintings in this room and nothing else. "
    "Visitor: who painted the large portrait by the door?"
)
MIGRATE = "How do we migrate the orders database without any downtime for the shop?"
REPORT = "Summarize the annual report for the board but not the appendix, in 200 words."
SNACKS = "Suggest nut-free, dairy-free snacks for a class trip of 30 kids."
BAG = "My checked bag can't weigh more than 23 kg; what should I leave at home for a ski week?"
AT_MOST = "My checked bag can weigh at most 23 kg; what should I leave at home for a ski week?"
TESTS = "Refactor this module but don't delete any of the tests."
NOTICE = "'Visitors may not feed the animals without a keeper present.'"

CASES = [
    # "nothing but X" / "X and nothing else" is an "only X", no negator
    (
        (INVOICE, "Using only the attached invoice, what is the total amount due?"),
        [
            (INVOICE, "Answer without using the attached invoice: what is the total amount due?"),
            (INVOICE, "Answer using the attached invoice: what is the total amount due?"),
        ],
    ),
    (
        (
            GUIDE,
            "You are a museum guide who only talks about the paintings in this room. "
            "Visitor: who painted the large portrait by the door?",
        ),
        [
            (
                GUIDE,
                "You are a museum guide who never talks about the paintings in this room. "
                "Visitor: who painted the large portrait by the door?",
            )
        ],
    ),
    # "without any X" / "zero X": a count of none
    (
        (MIGRATE, "How do we migrate the orders database with zero downtime for the shop?"),
        [(MIGRATE, "How do we migrate the orders database with downtime for the shop?")],
    ),
    # leaving a thing out is "without" it
    (
        (
            REPORT,
            "Summarize the annual report for the board in 200 words and leave the appendix out.",
        ),
        [(REPORT, "Summarize the annual report for the board in 200 words, appendix included.")],
    ),
    # one "without" before a list is the "-free" of each thing listed
    (
        ("Suggest snacks without nuts or dairy for a class trip of 30 kids.", SNACKS),
        [("Suggest snacks with nuts and dairy for a class trip of 30 kids.", SNACKS)],
    ),
    # a negated verb before "more than": an upper bound
    (
        (
            BAG,
            "My checked bag can weigh at most 23 kg; what should I leave at home for a ski week?",
        ),
        [
            (
                "My checked bag has to weigh more than 23 kg; what should I leave at home for a "
                "ski week?",
                AT_MOST,
            )
        ],
    ),
    # "not ... any" is "every", "not ... all" is "some"
    (
        (TESTS, "Refactor this module but keep every one of the tests; don't delete them."),
        [
            (TESTS, "Refactor this module but don't delete all of the tests."),
            (
                "Do any of these phone plans include roaming in Canada?",
                "Do all of these phone plans include roaming in Canada?",
            ),
        ],
    ),
    # "do not change its meaning" is "keep the same meaning", "not drop any" "keep every"
    (
        (
            f"Rewrite this notice so that a young child can read it, but do not change its "
            f"meaning or drop any of the rules: {NOTICE}",
            f"Rewrite this notice for a young child to read, keeping every rule and the same "
            f"meaning: {NOTICE}",
        ),
        [
            (
                f"Rewrite this notice so that a young child can read it, but do not change its "
                f"meaning or drop any of the rules: {NOTICE}",
                f"Rewrite this notice so that a young child can read it, and change its meaning "
                f"and drop some of the rules: {NOTICE}",
            ),
            (
                f"Rewrite this notice so that a young child can read it, and keep the same "
                f"meaning: {NOTICE}",
                f"Rewrite this notice so that a young child can read it, and change the meaning: "
                f"{NOTICE}",
            ),
        ],
    ),
    # a speech verb introducing the question ("The guest asks:") is no opposite of "answer"
    (
        (
            "Reply to the guest politely. The guest asks: is breakfast included in the room rate?",
            "Answer the guest's question politely: is breakfast included in the room rate?",
        ),
        [
            (
                "How do I ask a question politely on a forum?",
                "How do I answer a question politely on a forum?",
            )
        ],
    ),
    # a giver's verb in the passive is the receiver's ("be given" / "receive")
    (
        (
            "As a vet, which cats should never be given paracetamol, and why?",
            "As a vet, which cats must not receive paracetamol, and why?",
        ),
        [
            (
                "Can my daughter give shares to me tax free?",
                "Can my daughter receive shares from me tax free?",
            )
        ],
    ),
    # two opposite comparatives about different numbers, each bounded on both sides
    (
        (
            "Skip any review that is older than 2019 and tell me which toys suit children under 3.",
            "Skipping reviews from before 2019, tell me which toys suit kids younger than 3.",
        ),
        [
            (
                "Is a car older than 10 years worth repairing after a crash?",
                "Is a car younger than 10 years worth repairing after a crash?",
            )
        ],
    ),
]


@pytest.mark.parametrize(("same", "traps"), CASES)
def test_long_prompts_said_otherwise(same: tuple[str, str], traps: list[tuple[str, str]]) -> None:
    """The true pair is served, and the traps of its look are still refused."""
    assert _served(*same)
    for a, b in traps:
        assert not _served(a, b), (a, b)
