"""``similar`` answers as difflib's ratio does; it only skips the matcher when a bound says no."""

from __future__ import annotations

import random
from difflib import SequenceMatcher

from redis_agent_core.cache.guards._features import similar


def test_similar_agrees_with_sequence_matcher() -> None:
    rng = random.Random(14)
    words = ["", "a", "receive", "recieve", "bake", "boil", "carbs", "carbohydrates", "Oxfrod"]
    pairs = [(a, b) for a in words for b in words]
    for _ in range(20000):
        letters = rng.choice(["ab", "abc", "eaiourstn"])
        pairs.append(
            tuple("".join(rng.choice(letters) for _ in range(rng.randint(0, 9))) for _ in "ab")
        )
    for a, b in pairs:
        for threshold in (0.5, 0.8, 0.9, 1.0):
            assert similar(a, b, threshold) == (SequenceMatcher(None, a, b).ratio() >= threshold)
