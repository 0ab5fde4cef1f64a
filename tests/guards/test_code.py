"""Code inside agent prompts: operators and identifiers the word parser does not see, and
prompts that differ only in blanks (which the pair scorer cannot see). Pairs of our own,
written for these tests."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import EntityGuard, Verifier, default_verifier

from .test_guards import rejects

SCHEMA = (
    "You write SQL for our analytics team. Tables: shipments(id, depot_id, weight_kg, "
    "placed_at, shipped_at) and depots(id, city, manager). Explain this query in plain "
    "English:\n"
)
LOOP = (
    "I am reviewing a colleague's code for our billing service and I want a second opinion "
    "before I approve the merge request. What does this snippet do?\n"
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Explain this filter: WHERE age >= 18", "Explain this filter: WHERE age > 18"),
        ("What does this print?\nprint(7 / 2)", "What does this print?\nprint(7 // 2)"),
        ("Why does this loop never end? while (i != n) { i += 2; }",
         "Why does this loop never end? while (i == n) { i += 2; }"),
        ("Is this check right? if (!user.is_admin) deny();",
         "Is this check right? if (user.is_admin) deny();"),
        ("Add an index on orders.placed_at for me", "Add an index on orders.shipped_at for me"),
        ("Send the weekly report to ops@acme.test", "Send the weekly report to sales@acme.test"),
        ("Simplify: if ready && valid: go()", "Simplify: if ready || valid: go()"),
        (SCHEMA + "SELECT city FROM depots WHERE id IN (SELECT depot_id FROM shipments "
         "WHERE weight_kg > 500);",
         SCHEMA + "SELECT city FROM depots WHERE id IN (SELECT depot_id FROM shipments "
         "WHERE weight_kg < 500);"),
        (SCHEMA + "SELECT COUNT(*) FROM shipments WHERE shipped_at IS NULL;",
         SCHEMA + "SELECT COUNT(*) FROM shipments WHERE placed_at IS NULL;"),
        (LOOP + "for line in invoice.lines:\n    total += line.amount\nreturn total",
         LOOP + "for line in invoice.lines:\n    total -= line.amount\nreturn total"),
    ],
)  # fmt: skip
def test_an_operator_or_a_code_name_changed_is_other_code(a: str, b: str) -> None:
    # the words are the same, the program or query is not (the embedding puts them 0.01 apart)
    assert rejects(EntityGuard(), a, b)  # both ways round
    reason = Verifier().verify(a, b)  # long prompts too: the guards see the narrowed spans
    assert reason is not None and reason.guard == "entity"
    assert "code differs" in reason.reason or "operator" in reason.reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Answer **only** from the notes below.", "Answer only from the notes below."),
        ("Great, thanks!", "Great, thanks."),
        ("- eggs\n- flour\nWhat can I bake with these?",
         "eggs, flour: what can I bake with these?"),
        ("<notes>Milk is low</notes> What should I buy?", "Notes: Milk is low. What should I buy?"),
        ("Is this a well-known trick?", "Is this a well known trick?"),
        ("The shop is open 9:00-17:00, when can I come?",
         "The shop is open 9:00 to 17:00, when can I come?"),
        ("Which rows have qty < 5?", "Which rows have qty below 5?"),
        ("List the pros and/or cons", "List the pros or cons"),
        ("My address is a.b@c.example, is it valid?",
         "is a.b@c.example a valid address"),
        ("SELECT * FROM depots WHERE city = 'Hull'", "select * from depots where city = 'Hull'"),
        ("Summary -- keep it short", "Summary: keep it short"),
        ("> quoted line\nreply to it", "quoted line\nreply to it"),
    ],
)  # fmt: skip
def test_prose_markup_and_layout_are_no_code(a: str, b: str) -> None:
    assert not rejects(EntityGuard(), a, b)


FUNC = (
    "Why does this function return the wrong value?\n"
    "def first_even(xs):\n    for x in xs:\n        if x % 2 == 0:\n            return x\n"
    "    return None"
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Translate into Italian: The train leaves at noon from platform four.",
         "Translate into Italian:    The train leaves at noon from platform four.   "),
        ("Summarise this note:\nThe boiler was serviced on Monday. The engineer replaced a "
         "valve. The next visit is in spring.",
         "Summarise this note:\n\nThe boiler was serviced on Monday.\nThe engineer replaced a "
         "valve.\nThe next visit is in spring."),
        (FUNC, FUNC.replace("    ", "  ")),  # re-indented by 2 instead of 4: the same code
    ],
)  # fmt: skip
def test_a_prompt_laid_out_otherwise_is_served_with_the_scorer_on(a: str, b: str) -> None:
    pytest.importorskip("onnxruntime")
    # the scorer's tokenizer drops blanks: it read one text twice and refused (0.00-0.01)
    verifier = default_verifier()
    assert verifier.verify(a, b) is None and verifier.verify(b, a) is None


def test_a_line_moved_out_of_its_block_is_still_refused() -> None:
    pytest.importorskip("onnxruntime")
    moved = FUNC.replace("\n    return None", "\n        return None")  # inside the loop now
    rejection = default_verifier().verify(moved, FUNC)
    assert rejection is not None and "indented otherwise" in rejection.reason
    assert default_verifier().verify(FUNC, moved) is not None
