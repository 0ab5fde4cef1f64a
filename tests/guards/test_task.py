"""Another task on the same text (TaskGuard): pairs of our own, not from any pair set."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import TaskGuard, Verifier, default_guards
from redis_agent_core.cache.guards._task import instructions

MEMO = (
    "Team, the office move is now set for the last weekend of March. Please pack your "
    "desks by Thursday, label every box with your name, and leave monitors on the desks."
)
CODE = "for i in range(10):\n    if i % 2:\n        print(i)"

# (stored, asked, what the reason names): another task on one text
TRAPS = [
    (f"Summarise this memo: {MEMO}", f"Translate this memo into Dutch: {MEMO}", "summarise"),
    (f"Proofread this memo: {MEMO}", f"Critique this memo: {MEMO}", "critique"),
    (f"{MEMO}\n\nShorten the above.", f"{MEMO}\n\nTranslate the above into Greek.", "shorten"),
    (f"Explain this loop:\n{CODE}", f"Simplify this loop:\n{CODE}", "simplify"),
    (f"Debug this loop:\n{CODE}", f"Write a docstring for this loop:\n{CODE}", "docstring"),
    (
        "Give me five questions about this memo: " + MEMO,
        "Give me a summary of this memo: " + MEMO,
        "questions",
    ),
    ("Turn this memo into a checklist: " + MEMO, "Turn this memo into a poster: " + MEMO, "poster"),
    (
        "As an office manager, please summarise: " + MEMO,
        "As an office manager, please reword: " + MEMO,
        "reword",
    ),
    (
        "Translate to German: " + MEMO,
        "Translate to German and explain the idioms: " + MEMO,
        "explain",
    ),
    ("Make this memo friendlier: " + MEMO, "Fix the punctuation in this memo: " + MEMO, "fix"),
    (
        "Compose a lullaby based on this memo: " + MEMO,
        "Compose a riddle based on this memo: " + MEMO,
        "riddle",
    ),
]

# the same task worded otherwise: never refused by this guard
TRUE = [
    (f"Summarise this memo: {MEMO}", f"Sum up this memo: {MEMO}"),
    (f"Summarize this memo: {MEMO}", f"Could you please summarise this memo? {MEMO}"),
    (f"Summarise this memo: {MEMO}", f"Write a summary of this memo: {MEMO}"),
    (f"Translate this memo into Dutch: {MEMO}", f"Put this memo in Dutch: {MEMO}"),
    (f"Translate into Dutch: {MEMO}", f"{MEMO}\n\nTranslate the above into Dutch."),
    (f"Paraphrase this memo: {MEMO}", f"Rephrase this memo: {MEMO}"),
    (f"Explain this loop:\n{CODE}", f"What does this loop do?\n{CODE}"),
    (f"Reply to this memo: {MEMO}", f"Write a reply to this memo: {MEMO}"),
    ("Make this memo friendlier: " + MEMO, "Make this memo more friendly: " + MEMO),
    ("Turn this memo into a checklist: " + MEMO, "Make a checklist from this memo: " + MEMO),
    ("Draft a thank-you note for my landlord", "Write a thank-you note for my landlord"),
    ("Come up with slogans for a bakery", "Suggest slogans for a bakery"),
    # a pasted text whose own sentences start with verbs: the same on both sides
    (
        "Critique this recipe: Whisk two eggs. Fold in the flour.",
        "Review this recipe: Whisk two eggs. Fold in the flour.",
    ),
]


@pytest.mark.parametrize(("stored", "asked", "named"), TRAPS)
def test_another_task_on_the_same_text_is_refused_naming_both(
    stored: str, asked: str, named: str
) -> None:
    for a, b in ((asked, stored), (stored, asked)):
        reason = TaskGuard().check(a, b)
        assert reason is not None and reason.startswith("task differs: ")
        assert named in reason


@pytest.mark.parametrize(("stored", "asked"), TRUE)
def test_the_same_task_reworded_passes(stored: str, asked: str) -> None:
    assert TaskGuard().check(asked, stored) is None
    assert TaskGuard().check(stored, asked) is None


def test_the_verifier_refuses_another_task_as_task() -> None:
    # "draft a reply" / "summarise": three words against one, which no guard of a word
    # swap reads; before this guard every default guard passed it
    rejection = Verifier().verify(
        f"Draft a reply to this memo: {MEMO}", f"Summarise this memo: {MEMO}"
    )
    assert rejection is not None and rejection.guard == "task"
    assert "task" in {g.name for g in default_guards()}


def test_questions_and_given_text_give_no_instruction() -> None:
    assert instructions("What is the capital of Peru?") == ()
    assert instructions("How do I reset my router?") == ()
    # what follows a colon is the given text, not a request
    found = instructions("Explain: Whisk two eggs and fold in the flour.")
    assert [i.verb for i in found] == ["explain"]
    # "Review of" is a noun, "Note:" the start of a given text's line
    assert instructions("Review of the hotel: clean rooms") == ()


# one job named by two task verbs WordNet does not relate (a phrasal verb, "fix" in the
# sense of "repair" and "correct" in that of "rectify"), or by a fault-finding and a
# reviewing verb: refused by the task guard before (and "fix" / "correct" by the
# substitution guard), served now
ONE_JOB = [
    (f"Correct the punctuation in this memo: {MEMO}", f"Fix the punctuation in this memo: {MEMO}"),
    (f"Walk me through this loop:\n{CODE}", f"Explain this loop:\n{CODE}"),
    (f"Could you talk me through the loop below?\n{CODE}", f"Explain the loop below.\n{CODE}"),
    (f"Find the bugs in this loop:\n{CODE}", f"Review this loop:\n{CODE}"),
    (f"Speed up this loop:\n{CODE}", f"Optimize this loop:\n{CODE}"),
    (
        "Put these rivers in alphabetical order: Nile, Amazon, Yangtze, Danube",
        "Sort these rivers: Nile, Amazon, Yangtze, Danube",
    ),
    (f"Give me the gist of this memo: {MEMO}", f"Summarise this memo: {MEMO}"),
    (
        f"Compose a short note to the team about this memo: {MEMO}",
        f"Compose a short message to the team about this memo: {MEMO}",
    ),
]


@pytest.mark.parametrize(("stored", "asked"), ONE_JOB)
def test_one_job_named_by_other_verbs_is_served(stored: str, asked: str) -> None:
    for a, b in ((asked, stored), (stored, asked)):
        assert TaskGuard().check(a, b) is None
    if "note" not in stored:  # ("note" / "message": the substitution guard still refuses)
        assert Verifier().verify(asked, stored) is None


def test_a_made_thing_named_by_a_verb_and_a_noun_is_read() -> None:
    # "write a commit message": "commit" is a verb too; read as what is made, not as
    # nothing made (then "write" agreed with any task)
    reason = TaskGuard().check(
        f"Write a commit message for this loop:\n{CODE}", f"Review this loop:\n{CODE}"
    )
    assert reason is not None and "commit message" in reason


def test_phrasal_task_verbs_are_read_as_one() -> None:
    assert instructions("Can you walk me through this loop? for i in x: pass")[0].verb == (
        "walk through"
    )
    assert [i.verb for i in instructions("Point out the errors in this memo: x y z")] == [
        "point out"
    ]
