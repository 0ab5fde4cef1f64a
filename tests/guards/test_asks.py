"""Another question on the same topic (AskGuard): pairs of our own, not from any pair set."""

from __future__ import annotations

from pathlib import Path

import pytest

from redis_agent_core.cache.guards import AskGuard, Verifier, default_guards

# (stored, asked, what the reason names): the same topic, another kind of answer
TRAPS = [
    ("Why did the Berlin Wall fall?", "When did the Berlin Wall fall?", "why vs when"),
    ("What is a kernel panic?", "How do I fix a kernel panic?", "what is vs how"),
    ("Who designed the Golden Gate Bridge?", "Where is the Golden Gate Bridge?", "who vs where"),
    ("Why is Venice sinking?", "How fast is Venice sinking?", "why vs how fast"),
    ("how many calories in a bagel", "how much is a bagel", "how many"),
    ("Why do owls hoot at night?", "How do owls hoot at night?", "why vs how"),
    (
        "What is a Health Savings Account?",
        "How much can I put in a Health Savings Account?",
        "what is",
    ),
    (
        "You are a museum guide bot.\nVisitor: When was the Parthenon built?",
        "You are a museum guide bot.\nVisitor: Why was the Parthenon built?",
        "when vs why",
    ),
    ("Can I return opened headphones?", "Should I return opened headphones?", "can I vs should I"),
    ("Do I have to vote in Australia?", "Should I vote in Australia?", "must I vs should I"),
    ("Must I wear a helmet on an e-scooter?", "Can I ride an e-scooter on the pavement?", "must I"),
    ("Can I eat grapes?", "Can my dog eat grapes?", "my dog"),
    ("What vitamins should I take?", "What vitamins should my cat take?", "my cat"),
    ("If it snows, will school be closed?", "Will school be closed?", "condition"),
    (
        "If the dollar weakens, what happens to gold prices?",
        "What happens to gold prices?",
        "condition",
    ),
]

# (stored, asked): the same question in other words
KEPT = [
    ("Why is the ocean salty?", "How come the ocean is salty?"),
    ("What time does the Prado open?", "When does the Prado open?"),
    ("In which city was Chopin born?", "Where was Chopin born?"),
    ("How do I clear my browser cache?", "What's the way to clear my browser cache?"),
    ("Steps to register a company in Ireland", "How can I register a company in Ireland?"),
    ("What is a mutual fund?", "Define mutual fund"),
    ("entropy meaning", "What is entropy?"),
    ("How many stripes are on the US flag?", "Number of stripes on the US flag"),
    ("Explain why leaves change colour in autumn", "Why do leaves change colour in autumn?"),
    ("I want to know when the Tate Modern closes", "When does the Tate Modern close?"),
    (
        "Who was Marie Curie and why is she famous?",
        "Why is Marie Curie famous, and who was she?",
    ),
    ("Where can I renew my driving licence?", "How do I renew my driving licence?"),
    ("Can I bring my dog on the ferry?", "Am I allowed to bring my dog on the ferry?"),
    ("Do I need a permit to fish here?", "Is a permit required to fish here?"),
    ("How much sleep does a toddler need?", "How many hours of sleep does a toddler need?"),
    (
        "If my train is cancelled, can I get a refund?",
        "Can I get a refund when my train is cancelled?",
    ),
    ("Who do I call about a water leak?", "How do I report a water leak?"),
]


@pytest.mark.parametrize(("stored", "asked", "named"), TRAPS)
def test_another_question_on_the_same_topic_is_refused(stored: str, asked: str, named: str) -> None:
    for query, candidate in ((asked, stored), (stored, asked)):
        rejection = Verifier().verify(query, candidate)
        assert rejection is not None, (query, candidate)
        assert rejection.guard == "asks", rejection
    reason = AskGuard().check(stored, asked)
    assert reason is not None
    assert named in reason, reason


@pytest.mark.parametrize(("stored", "asked"), KEPT)
def test_the_same_question_reworded_is_kept(stored: str, asked: str) -> None:
    assert AskGuard().check(asked, stored) is None
    assert AskGuard().check(stored, asked) is None


def test_a_default_guard_judged_on_features() -> None:
    from redis_agent_core.cache.guards import _JUDGED  # type: ignore[attr-defined]

    assert any(isinstance(g, AskGuard) for g in default_guards())
    assert AskGuard in _JUDGED


def test_stored_features_judge_alike() -> None:
    """A candidate whose features were read back from a cache entry is judged as parsed."""
    stored, asked = "Why did the Berlin Wall fall?", "When did the Berlin Wall fall?"
    verifier = Verifier()
    assert verifier.remember(stored, Verifier.features_of(stored))
    rejection = verifier.verify(asked, stored)
    assert rejection is not None and rejection.guard == "asks"


# (asking nothing, asking for someone else or on a condition): a side that asks no kind
# of answer nor a yes/no modality leaves the other's unread, never whom or on what
# condition it asks
FOR_WHOM = [
    (
        "I have a sore throat and a fever, honey and lemon tea for me?",
        "My son has a sore throat and a fever, honey and lemon tea for him?",
        "my son vs me",
    ),
    ("Tylenol dose for me, I weigh 70 kg", "Tylenol dose for my daughter, she weighs 70 kg", "me"),
    (
        "Best running shoes for flat feet",
        "If I have knee pain, best running shoes for flat feet",
        "condition",
    ),
]


@pytest.mark.parametrize(("plain", "other", "named"), FOR_WHOM)
def test_a_side_asking_nothing_still_reads_whom_the_other_asks_for(
    plain: str, other: str, named: str
) -> None:
    for query, candidate in ((plain, other), (other, plain)):
        reason = AskGuard().check(query, candidate)
        assert reason is not None and named in reason, (query, reason)


def test_the_guard_judges_as_both_sides_read_whole() -> None:
    """AskGuard reads the candidate's questions only when the query asks one: every pair
    of our own judged as :func:`asks_differ` on both sides' whole :func:`asks`."""
    from redis_agent_core.cache.calibrate import load_pairs
    from redis_agent_core.cache.guards import features
    from redis_agent_core.cache.guards._asks import _TIME_AND_STEP, _WHO, asks, asks_differ
    from redis_agent_core.cache.guards._readings import (
        condition_stated,
        readings,
        readings_differ,
    )

    def long_way(query: str, candidate: str) -> str | None:
        a, b = asks(features(query).lower), asks(features(candidate).lower)
        if "person" in a.kinds and _WHO.search(query):
            a = a._replace(kinds=a.kinds - {"person"})
        if "person" in b.kinds and _WHO.search(candidate):
            b = b._replace(kinds=b.kinds - {"person"})
        q, c = features(query).lower, features(candidate).lower
        return (
            asks_differ(a, b, q, c)
            or condition_stated(q, c)
            or readings_differ(readings(q), readings(c), _TIME_AND_STEP)
        )

    pairs = [(p.cached, p.query) for p in load_pairs(Path(__file__).parent / "pairs.jsonl")]
    pairs += [(s, a) for s, a, _ in [*TRAPS, *FOR_WHOM]] + KEPT
    refused = 0
    for stored, asked in pairs:
        for query, candidate in ((asked, stored), (stored, asked)):
            expected = long_way(query, candidate)
            assert AskGuard().check(query, candidate) == expected, (query, candidate)
            refused += expected is not None
    assert refused >= 2 * len(TRAPS)  # the refusals are among them
