"""Long prompts that share most of their text are compared on the words they differ by:
the verdict is the one for the differing question, and the shared text is not analysed."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import EntityGuard, Verifier, _features, features
from redis_agent_core.cache.guards._spans import MIN_SHARED, narrowed

CONTEXT = (
    "system: You are the help desk of a garden centre. Answer in two sentences, "
    "politely, and mention opening hours only when asked. The shop stocks seeds, "
    "compost, hand tools from Fiskars, hoses and outdoor furniture.\nhuman: "
)


@pytest.mark.parametrize(
    ("stored", "asked", "guard"),
    [
        ("Can I return a hose after 30 days?", "Can I return a hose after 60 days?", "number"),
        ("Do you sell peat-free compost?", "Do you sell no peat-free compost?", "negation"),
        (
            "Is the patio set cheaper than the bench?",
            "Is the bench cheaper than the patio set?",
            "argument",
        ),
    ],
)
def test_a_long_shared_context_keeps_the_question_s_verdict(
    stored: str, asked: str, guard: str
) -> None:
    verifier = Verifier()
    alone = verifier.verify(asked, stored)
    long = verifier.verify(CONTEXT + asked, CONTEXT + stored)
    assert alone is not None and long is not None
    assert long.guard == alone.guard == guard


def test_a_paraphrase_after_a_shared_context_still_passes() -> None:
    stored = CONTEXT + "When do you open on Saturdays?"
    asked = CONTEXT + "What time do you open on Saturdays?"
    assert Verifier().verify(asked, stored) is None


def test_a_word_of_the_shared_context_does_not_hide_a_swap_in_the_question() -> None:
    # "Fiskars" is in the shared context: compared whole, it is on both sides and only
    # "Gardena" differs (a name added on one side passes); narrowed, it is a swap.
    stored = "What is the warranty on Fiskars shears bought this year?"
    asked = "What is the warranty on Gardena shears bought this year?"
    rejection = Verifier().verify(CONTEXT + asked, CONTEXT + stored)
    assert rejection is not None and rejection.guard == "entity"


def test_short_prompts_are_compared_whole() -> None:
    a, b = "Which trains run to Leeds on Sunday?", "Which trains run to York on Sunday?"
    assert narrowed(a, b) == (a, b)
    words = " ".join(f"w{i}" for i in range(MIN_SHARED - 2))
    assert narrowed(words + " end", words + " finish") == (words + " end", words + " finish")


def test_a_lookup_on_long_prompts_analyses_only_the_differing_span(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    features.cache_clear()
    parsed: list[str] = []
    real = _features._parse
    monkeypatch.setattr(_features, "_parse", lambda text: parsed.append(text) or real(text))
    stored = CONTEXT + "Can I return a hose after 30 days?"
    Verifier.remember(stored, Verifier.features_of(stored))
    parsed.clear()
    rejection = Verifier().verify(CONTEXT + "Can I return a hose after 60 days?", stored)
    assert rejection is not None and rejection.guard == "number"
    assert parsed and all(len(text.split()) < 20 for text in parsed)


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Refactor it.", "Restructure it."),
        ("Clean it up.", "Tidy it up."),
        ("Optimize it.", "Optimise it."),
    ],
)
def test_a_request_after_pasted_code_starts_its_own_sentence(stored: str, asked: str) -> None:
    # narrowed, the span starts inside the code; the line break before the request stays,
    # so its first word is not read as a name in mid-sentence ("return total Refactor")
    code = (
        "Here is my function:\n\ndef total(rows):\n    s = 0\n    for r in rows:\n"
        "        s += r['amount']\n    return s\n\n"
    )
    query, candidate = narrowed(code + asked, code + stored)
    assert "\n" in query and "\n" in candidate
    assert Verifier().verify(code + asked, code + stored) is None


_EMAIL = (
    "Hi Jo,\nthe vendor can't ship the 40 chairs before 12 May, so the launch moves to "
    "June. I haven't told the client yet.\nBest,\nRuth\n"
)


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        ("Reply to Ruth agreeing.", "Write back to Ruth agreeing."),
        ("Draft a short answer to this.", "Write a short answer to this."),
    ],
)
def test_a_request_on_a_line_under_a_pasted_text_names_no_entity(stored: str, asked: str) -> None:
    # narrowed, the request's first word follows the signature: it starts a line there
    # (a sentence), not a name run "Ruth Reply"
    verifier = Verifier(guards=[EntityGuard()])
    assert verifier.verify(_EMAIL + asked, _EMAIL + stored) is None
    assert verifier.verify(_EMAIL + stored, _EMAIL + asked) is None


def test_a_name_inside_a_request_under_a_pasted_text_still_differs() -> None:
    verifier = Verifier(guards=[EntityGuard()])
    assert verifier.verify(_EMAIL + "Reply to Ruth and Omar.", _EMAIL + "Reply to Ruth and Dana.")


def _by_words(query: str, candidate: str) -> tuple[str, str]:
    """``narrowed`` as first written: both texts split into word lists and compared word
    by word (the reference the character-level path must equal)."""
    q, c = [w for w in query.split(" ") if w], [w for w in candidate.split(" ") if w]
    if len(q) <= MIN_SHARED or min(len(q), len(c)) <= MIN_SHARED:
        return query, candidate
    prefix = next(
        (i for i, (a, b) in enumerate(zip(q, c, strict=False)) if a != b), min(len(q), len(c))
    )
    limit = min(len(q), len(c)) - prefix
    pairs = list(zip(reversed(q), reversed(c), strict=False))[:limit]
    suffix = next((i for i, (a, b) in enumerate(pairs) if a != b), len(pairs))
    if prefix + suffix < MIN_SHARED:
        return query, candidate
    start, keep = max(0, prefix - 4), max(0, suffix - 4)
    return " ".join(q[start : len(q) - keep]), " ".join(c[start : len(c) - keep])


def test_narrowing_reads_the_words_the_word_lists_would() -> None:
    # Texts that are words joined by single spaces are narrowed from their characters
    # (no split): each edit, at each place, gives the spans the word lists give, also
    # with a word repeated at the edit, a word grown at either end, non-ASCII letters,
    # line breaks inside words and runs of spaces (those take the word path).
    import random

    rng = random.Random(18)
    vocab = "the a of to in Paris Lyon café naïve x xs sx 30 60 days\nhuman: Is it".split(" ")
    for _ in range(20000):
        base = [rng.choice(vocab) for _ in range(rng.choice([10, 14, 20, 40, 100]))]
        sides = []
        for _side in range(2):
            words = list(base)
            for _edit in range(rng.choice([0, 1, 1, 2, 3])):
                i = rng.randrange(len(words))
                edit = rng.randrange(5)
                if edit == 0:
                    words[i] = rng.choice(vocab)
                elif edit == 1:
                    words.insert(i, rng.choice(vocab))
                elif edit == 2 and len(words) > 1:
                    del words[i]
                elif edit == 3:
                    words.insert(i, words[i])  # a word repeated
                else:
                    words[i] = rng.choice(["", "s"]) + words[i] + rng.choice(["", "s"])
            text = " ".join(words)
            if rng.random() < 0.05:
                text = rng.choice([" " + text, text + " ", text.replace(" ", "  ", 1)])
            sides.append(text)
        assert narrowed(*sides) == _by_words(*sides), sides
